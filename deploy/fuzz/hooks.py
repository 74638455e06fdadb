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
    _declare_file_types(case)
    if not case.headers or case.meta is None or not case.meta.generation.mode.is_positive:
        return
    for name in list(case.headers):
        if name.lower() == "idempotency-key":
            case.headers[name] = f"fuzz-{next(_KEYS)}"


# An upload's file part declares its type (the request body's `encoding.file.contentType` lists
# the allowed ones) and the server checks the content against it (a PNG must start like one), a
# rule no schema can state. Schemathesis sends whatever bytes it likes under the type it picks;
# give each allowed type a real file of that type: the smallest well-formed ones it ships, and
# any UTF-8 text for text/plain.
_SAMPLE_TYPES = {}


def _register_upload_types():
    from hypothesis import strategies as st
    from schemathesis.core.file_samples import FILE_SAMPLES

    samples = {
        "image/png": FILE_SAMPLES["png"],
        "image/jpeg": FILE_SAMPLES["jpg"],
        "image/gif": FILE_SAMPLES["gif"],
        "image/webp": FILE_SAMPLES["webp"],
        "application/pdf": FILE_SAMPLES["pdf"],
    }
    for media_type, sample in samples.items():
        schemathesis.openapi.media_type(media_type, st.just(sample))
        _SAMPLE_TYPES[sample] = media_type
    schemathesis.openapi.media_type("text/plain", st.text(max_size=200).map(lambda t: t.encode("utf-8")))


_register_upload_types()


def _declare_file_types(case):
    """Schemathesis (4.32.5) does not always record which allowed type it picked for a file part
    (`multipart_content_types`), and then sends the part under the first type the encoding lists
    (the JPEG sample as `image/png`), which the server rightly refuses (415). A client declares
    the type of the file it sends: a part holding one of the samples above is sent under that
    sample's type. (The content is left as generated: an edited body is revalidated, and a
    binary one never validates, which would turn a valid case into an invalid one.)"""
    if not isinstance(case.body, dict):
        return
    found = {}
    for name, value in case.body.items():
        # Generated files are `bytes`, or `Binary` (a `str` carrying them in `data`).
        content = getattr(value, "data", value)
        if isinstance(content, bytes) and content in _SAMPLE_TYPES:
            found[name] = _SAMPLE_TYPES[content]
    if found:
        # `Case` fields are set once; this is the one the request is built from.
        object.__setattr__(case, "multipart_content_types", {**(case.multipart_content_types or {}), **found})
