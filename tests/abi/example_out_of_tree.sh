#!/bin/sh
# example_out_of_tree.sh - build the example plugin the way a third party
# would: install ringmx into a temporary PREFIX (make install), compile
# plugins/example/example.c with nothing but the flags of the installed
# ringmx.pc (no -I into the source tree), and check with nm -D that the
# .so exports the entry point rmx_plugin_entry_v1 and nothing else.
# Usage: tests/abi/example_out_of_tree.sh  (from anywhere; CC honoured)
# Exit status 0 = ok, 1 = failed.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
cd "$root" || exit 1
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringmx-oot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

fail() {
	echo "example_out_of_tree: FAIL: $*" >&2
	exit 1
}

# Nothing from the environment may add include paths.
unset CPATH C_INCLUDE_PATH DESTDIR

if ! make --no-print-directory install PREFIX="$tmp" DESTDIR= \
    >"$tmp/install.log" 2>&1; then
	tail -n 40 "$tmp/install.log" >&2
	fail "make install PREFIX=$tmp"
fi
[ -f "$tmp/include/ringmx/plugin.h" ] || fail "include/ringmx/plugin.h not installed"
[ -f "$tmp/lib/pkgconfig/ringmx.pc" ] || fail "lib/pkgconfig/ringmx.pc not installed"

cflags=$(PKG_CONFIG_PATH="$tmp/lib/pkgconfig" pkg-config --cflags ringmx) ||
	fail "pkg-config --cflags ringmx"
cflags=$(printf '%s' "$cflags" | sed 's/[[:space:]]*$//')
case " $cflags " in
*" -I$tmp/include "*) ;;
*) fail "pkg-config --cflags ringmx gives \"$cflags\", not -I$tmp/include" ;;
esac
case "$cflags" in
*"$root"*) fail "pkg-config --cflags points into the source tree: $cflags" ;;
esac

# shellcheck disable=SC2086 # cflags is a list of words
"$cc" -shared -fPIC $cflags -Wall -Wextra -Werror -o "$tmp/example.so" \
    plugins/example/example.c || fail "$cc could not build the example"

syms=$(nm -D --defined-only "$tmp/example.so") || fail "nm -D"
echo "$syms" | grep -Eq '^[0-9a-fA-F]+ T rmx_plugin_entry_v1$' ||
	fail "rmx_plugin_entry_v1 is not exported: $syms"
others=$(echo "$syms" | grep -Ev ' rmx_plugin_entry_v1$' | grep -E ' [TDBR] ')
[ -z "$others" ] || fail "exports more than the entry point: $others"

echo "example_out_of_tree: ok (built with $cc $cflags, exports rmx_plugin_entry_v1)"
exit 0
