#!/bin/sh
# install-deps.sh - install, only when missing, the Debian packages that
# ringmx's build (and, with --test, its tests and benchmarks) need.
# Usage: tools/install-deps.sh [--build|--test|--bench]
# Runs apt-get only when something is missing; needs root for that.
set -eu

BUILD_PKGS="gcc make pkg-config liburing-dev libwolfssl-dev libunbound-dev dns-root-data \
liblmdb-dev libsodium-dev libconfig-dev libldns-dev libpsl-dev publicsuffix libjson-c-dev \
libseccomp-dev"
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev swaks python3 \
python3-pytest python3-aiosmtpd python3-dkim python3-spf python3-authres \
python3-dnspython python3-yaml libnet-ssleay-perl openssl strace lmdb-utils \
clang-format cppcheck nsd ldnsutils dns-root-data postfix valgrind"
BENCH_PKGS="postfix procps linux-perf opendkim"

want="$BUILD_PKGS"
case "${1:---build}" in
--build) ;;
--test) want="$want $TEST_PKGS" ;;
--bench) want="$want $TEST_PKGS $BENCH_PKGS" ;;
*)
	echo "usage: $0 [--build|--test|--bench]" >&2
	exit 2
	;;
esac

# The account ringmx switches to when started as root (user = "ringmx",
# docs/security.md): a system user and group, no home, no login.
if [ "$(id -u)" -eq 0 ] && ! getent passwd ringmx >/dev/null 2>&1; then
	if command -v adduser >/dev/null 2>&1; then
		adduser --system --group --no-create-home --home /nonexistent \
		    ringmx >/dev/null
	else
		groupadd --system ringmx 2>/dev/null || true
		useradd --system --gid ringmx --no-create-home \
		    --home-dir /nonexistent --shell /usr/sbin/nologin ringmx
	fi
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages and not root; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions at install time; answer them up front.
if echo "$missing" | grep -q postfix; then
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
