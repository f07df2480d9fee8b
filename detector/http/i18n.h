/*
 * The console pages' words in English and Chinese: one table of message keys (labels, health
 * states, zone kinds, reasons a candidate does not count, evidence roles) and the GB/T
 * category names, picked by the request's Accept-Language. The pages fetch the whole table for
 * their language as JSON (GET /i18n.json) and look words up by key.
 *
 * Immutable tables: any thread. No allocation except so_i18n_json's result.
 */
#ifndef SO_HTTP_I18N_H
#define SO_HTTP_I18N_H

#include <stddef.h>

enum so_lang {
    SO_LANG_EN = 0,
    SO_LANG_ZH,
};

/* The language for an Accept-Language header (NULL: none): Chinese when a zh tag has a higher
 * q than any en tag (or comes first at the same q), else English. */
enum so_lang so_i18n_pick(const char *accept_language);

/* "en" or "zh". */
const char *so_i18n_code(enum so_lang lang);

/*
 * The text of `key` in `lang`: a table key ("kind.illegal_parking", "why.person", "grid.title"
 * ...) or "category.<code>" (the GB/T 30428.2 name: the standard's Chinese name from
 * config/categories.c, an English translation here). NULL for an unknown key.
 */
const char *so_i18n_text(enum so_lang lang, const char *key);

/* {"lang": "zh", "text": {key: text, ...}} with every key of the table and the built-in
 * categories. malloc()ed NUL-terminated (caller frees), its length in *len; never NULL. */
char *so_i18n_json(enum so_lang lang, size_t *len);

#endif
