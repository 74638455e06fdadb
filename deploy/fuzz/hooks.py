"""Schemathesis hooks for deploy/fuzz.sh (loaded through SCHEMATHESIS_HOOKS)."""

import itertools

import schemathesis

# Hypothesis starts from minimal values, so it sends the same Idempotency-Key ("0", "00" ...) on
# many different requests, and the platform rightly answers 422 (key reused with another body)
# to schema-valid data. A client never does that; give each valid request a key of its own. Keys
# the fuzzer generates as invalid (negative cases) are left as they are: their rejection is tested.
_KEYS = itertools.count()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not case.headers or case.meta is None or not case.meta.generation.mode.is_positive:
        return
    for name in list(case.headers):
        if name.lower() == "idempotency-key":
            case.headers[name] = f"fuzz-{next(_KEYS)}"
