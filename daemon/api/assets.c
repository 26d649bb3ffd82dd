/* The dashboard's files: a table generated at build time from web/, so the
 * daemon serves its dashboard with nothing else installed. */
#include "api/assets.h"

#include <string.h>

#include "web_assets.h"

const struct web_asset *web_asset_find(const char *url)
{
	if (!strcmp(url, "/index.html"))
		url = "/";
	for (size_t i = 0; i < sizeof(web_assets) / sizeof(web_assets[0]); i++)
		if (!strcmp(url, web_assets[i].url))
			return &web_assets[i];
	return NULL;
}

const struct web_asset *web_asset_all(size_t *n)
{
	*n = sizeof(web_assets) / sizeof(web_assets[0]);
	return web_assets;
}
