/*
 * fuzz_config.c - libFuzzer target for config_load_string() and
 * config_print() (core/config.c): arbitrary text must never crash, hang
 * or leak. Checked with abort(): a rejected text leaves a non-empty
 * "NAME:..." message; an accepted one satisfies the documented ranges;
 * print -> load -> print reproduces the same text (the printed form is
 * always accepted and is a fixed point).
 * Inputs containing "@include" are skipped: they would read arbitrary
 * files of the machine running the fuzzer.
 * Seeds: tests/fuzz/corpus/fuzz_config/. Also linked with
 * tests/fuzz/replay_main.c for `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libconfig 1.5's parser leaks the pending string token on some syntax
 * errors (e.g. a bare "x" where a name is expected); that is not ours. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static char *
print_to_string(const struct rmx_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		abort();
	config_print(cfg, f);
	if (fclose(f) != 0 || buf == NULL)
		abort();
	return buf;
}

static void
check_ranges(const struct rmx_config *cfg)
{
	const struct rmx_limits *l = &cfg->limits;

	if (cfg->hostname == NULL || cfg->hostname[0] == '\0' ||
	    cfg->state_dir == NULL || cfg->maildir_root == NULL ||
	    cfg->workers < 1 || cfg->workers > 256 || cfg->nlisteners < 1 ||
	    cfg->queue_map_size < 1024 * 1024 || l->line_max < 512 ||
	    l->text_line_max < 1000 || l->message_max < 1024 ||
	    l->header_max < 1 || l->rcpt_max < 1 || l->timeout_command < 1)
		abort();
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].address == NULL ||
		    cfg->listeners[i].addrlen == 0 ||
		    cfg->listeners[i].mode > LISTEN_SUBMISSIONS)
			abort();
	for (size_t i = 0; i < cfg->nlocal_domains; i++)
		if (!config_is_local_domain(cfg, cfg->local_domains[i]))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rmx_config *cfg, *again;
	char err[512], *text, *first, *second;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	memset(err, 'X', sizeof(err));
	cfg = config_load_string(text, "fuzz", err, sizeof(err));
	free(text);
	if (cfg == NULL) {
		if (memchr(err, '\0', sizeof(err)) == NULL ||
		    strncmp(err, "fuzz", 4) != 0)
			abort();
		return 0;
	}
	check_ranges(cfg);
	first = print_to_string(cfg);
	again = config_load_string(first, "printed", err, sizeof(err));
	if (again == NULL) {
		fprintf(stderr, "printed config rejected: %s\n%s", err, first);
		abort();
	}
	second = print_to_string(again);
	if (strcmp(first, second) != 0) {
		fprintf(stderr, "print not a fixed point:\n%s---\n%s", first,
		    second);
		abort();
	}
	free(first);
	free(second);
	config_free(again);
	config_free(cfg);
	return 0;
}
