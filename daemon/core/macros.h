/* Small helpers for tables and for messages that name a limit. */
#ifndef LLMOBS_CORE_MACROS_H
#define LLMOBS_CORE_MACROS_H

/* The number of elements of an array (not a pointer). */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A macro's value as a string literal: "within " STR(LIMIT_S) " s" keeps a
 * message true when the limit changes. */
#define STR_(x) #x
#define STR(x)  STR_(x)

#endif
