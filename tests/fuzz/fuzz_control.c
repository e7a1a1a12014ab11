/*
 * fuzz_control.c - libFuzzer target for the control socket's request
 * handling (core/control.c): any line must give exactly one JSON object
 * with "v":1 and "ok", never a crash, a hang or a leak. Runs without
 * workers or shards (commands that need them find none).
 * Seeds: tests/fuzz/corpus/fuzz_control/. Also linked with
 * tests/fuzz/replay_main.c for `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rmx_config *cfg;
	char err[256], *out;
	json_object *o, *v;

	if (cfg == NULL &&
	    (cfg = config_load_string("listeners = ( { address = "
				      "\"127.0.0.1:2525\"; } );\n",
		 "fuzz", err, sizeof(err))) == NULL)
		abort();
	if (size > 65536)
		return 0;
	out = control_test_request(cfg, (const char *)data, size);
	if (out == NULL)
		abort();
	o = json_tokener_parse(out);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "v", &v) ||
	    json_object_get_int(v) != 1 ||
	    !json_object_object_get_ex(o, "ok", &v))
		abort();
	json_object_put(o);
	free(out);
	return 0;
}
