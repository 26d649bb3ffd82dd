/* llm/prices.json built into the daemon (price.c parses it at start): the
 * table stays one JSON file in the repository, reviewed as such. The path
 * is the repository's: every build compiles from its root. */
__asm__(".section .rodata\n"
        ".global llm_prices_json\n"
        ".type llm_prices_json, @object\n"
        "llm_prices_json:\n"
        ".incbin \"daemon/llm/prices.json\"\n"
        ".byte 0\n"
        ".size llm_prices_json, . - llm_prices_json\n"
        ".previous\n");
