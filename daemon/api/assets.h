/* The dashboard's files, built into the binary from web/ (embed_web.sh). */
#ifndef LLMOBS_API_ASSETS_H
#define LLMOBS_API_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *url; /* "/" for index.html, "/assets/..." */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

/* The file served at url, or NULL. */
const struct web_asset *web_asset_find(const char *url);
/* All of them, for a total size (n set to their count). */
const struct web_asset *web_asset_all(size_t *n);

#endif
