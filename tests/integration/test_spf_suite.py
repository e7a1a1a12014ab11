"""test_spf_suite.py - the RFC 7208 test suite (python3-spf's
rfc7208-tests.yml.gz, the openspf.org suite) against ringmx-spfcheck, the
spf plugin's evaluator over libunbound.

Each scenario's zonedata is served by suite_dns.SuiteDNS on loopback (one
server per scenario, started on first use); each test case is one pytest
test that runs the tool with the case's host, mailfrom and helo,
`--server 127.0.0.1@PORT` and `--explanation DEFAULT` (the suite driver's
default explanation), and asserts the result (one of the acceptable ones
when the suite lists several) and the explanation when the case gives
one. Cases in SKIP are skipped with the reason given there.

The tool is $RINGMX_SPFCHECK, default build/asan/ringmx-spfcheck.
"""

import gzip
import os
import pathlib
import re
import subprocess

import pytest
import yaml

from suite_dns import SuiteDNS

REPO = pathlib.Path(__file__).resolve().parents[2]
SUITE = pathlib.Path("/usr/share/doc/python3-spf/rfc7208-tests.yml.gz")
TOOL = pathlib.Path(os.environ.get("RINGMX_SPFCHECK",
                                   "build/asan/ringmx-spfcheck"))
if not TOOL.is_absolute():
    TOOL = REPO / TOOL
# per-query deadline of the tool: the suite's TIMEOUT entries wait for it
TIMEOUT_MS = 800

LINE_RE = re.compile(r'^result=(\S+) explanation="((?:[^"\\]|\\.)*)" ')

# case id -> reason. Every case not listed here must pass.
SKIP = {}

# Cases whose explanation is compared without regard to case, and why.
EXPLANATION_NOCASE = {
    "v-macro-ip6": "the suite expects upper-case hex nibbles for %{i} "
    "(pyspf's choice); RFC 7208 section 7.4 shows lower case, which the "
    "evaluator follows (tests/unit/test_spf_eval.c checks the RFC's "
    "examples); DNS names are case-insensitive",
}


def _load():
    if not SUITE.exists():
        return []
    with gzip.open(SUITE, "rb") as f:
        return [s for s in yaml.safe_load_all(f) if s]


SCENARIOS = _load()
CASES = []
for _i, _sc in enumerate(SCENARIOS):
    for _name, _case in (_sc.get("tests") or {}).items():
        CASES.append(pytest.param(_i, _name, _case, id=_name))

_servers = {}


@pytest.fixture(scope="module")
def servers():
    yield _servers
    for s in _servers.values():
        s.close()
    _servers.clear()


def _unescape(s):
    return re.sub(r"\\x([0-9a-f]{2})|\\(.)",
                  lambda m: chr(int(m.group(1), 16)) if m.group(1)
                  else m.group(2), s)


def run_tool(port, case):
    args = [str(TOOL), "--ip", str(case["host"]),
            "--sender", str(case.get("mailfrom", "")),
            "--helo", str(case.get("helo", "")),
            "--server", "127.0.0.1@%d" % port,
            "--explanation", "DEFAULT",
            "--timeout", str(TIMEOUT_MS)]
    if case.get("receiver"):
        args += ["--receiver", str(case["receiver"])]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       errors="replace")
    assert p.returncode == 0, p.stderr
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
        p.stderr
    m = LINE_RE.match(p.stdout)
    assert m, p.stdout
    return m.group(1), _unescape(m.group(2)), p.stdout


def test_suite_present():
    assert SUITE.exists(), "python3-spf's test suite is not installed"
    assert len(CASES) > 100
    assert TOOL.exists(), "build %s first (make %s)" % (TOOL, TOOL)


@pytest.mark.parametrize("idx,name,case", CASES)
def test_rfc7208(servers, idx, name, case):
    if name in SKIP:
        pytest.skip(SKIP[name])
    if idx not in servers:
        servers[idx] = SuiteDNS(SCENARIOS[idx].get("zonedata"))
    result, explanation, line = run_tool(servers[idx].port, case)
    want = case["result"]
    want = want if isinstance(want, list) else [want]
    assert result in want, "%s: got %s want %s\n%s\ndescription: %s" % (
        name, result, want, line, case.get("description", ""))
    if "explanation" in case:
        if name in EXPLANATION_NOCASE:
            assert explanation.lower() == case["explanation"].lower(), line
        else:
            assert explanation == case["explanation"], line
