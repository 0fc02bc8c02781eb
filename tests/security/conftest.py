"""The security tests share the end-to-end suite's stack: the real local stack, started the way
`make serve` starts it (tests/e2e/conftest.py), so what is fuzzed is what is served."""
from tests.e2e.conftest import stack  # noqa: F401 - the fixture, reused rather than copied
