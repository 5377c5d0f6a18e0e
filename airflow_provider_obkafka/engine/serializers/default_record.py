"""
The Default method's record function: a change's Kafka key and Default JSON value in one call, compiled
once per table.

`DefaultSerializer.key` and `.value` take a dozen Python calls per change (images, metadata template, key
text twice, sequence, encoding); at 50,000 changes a second those calls are a third of the worker's time.
The compiled function does the same work in one function body: the table's constant metadata fields are
written once into a `bytes %` template of the record, the key text is computed once for both the key and
`record_primary_value`, and the images go through the table's compiled renderer. It writes the same bytes
(tested on every case of the serializer tests). Whatever it does not cover goes to the general path, which
then answers or raises as it always has: a heartbeat, a missing image, an incremental change without a
commit time, and any value the fast renderer or a key renderer rejects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.change import KEY_SEPARATOR, RecordType
from airflow_provider_obkafka.engine.changes.values import renderer_for
from airflow_provider_obkafka.engine.serializers.default_metadata import metadata_template
from airflow_provider_obkafka.engine.serializers.sequence import SEQUENCE_DIGITS

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.change import TableContext
    from airflow_provider_obkafka.engine.serializers import Record, SortSequence

__all__ = ["compile_default_record"]



class _Uncovered(Exception):
    """The change lacks what its compiled branch needs: the general path answers (or raises) for it."""


# What sends a change to the general path, which then gives the answer or the error.
_FALLBACK = (_Uncovered, TypeError, ValueError, AttributeError)
# Record type -> (the image the key comes from, prevStruct image, postStruct image); "" for none.
_SHAPES = {
    RecordType.INSERT: ("after", "", "after"),
    RecordType.UPDATE: ("after", "before", "after"),
    RecordType.DELETE: ("before", "before", ""),
    RecordType.ROW: ("after", "", "after"),
}


def _text_code(ctx: TableContext, names: tuple[str, ...], prefix: str, ns: dict[str, Any]) -> str:
    """
    An expression: the values of `names` in `image` as text, joined with U+0001, NULL as "" (what
    `TableContext.key_text` computes); integers inline, other types through their column's text renderer.
    """
    parts = []
    for j, name in enumerate(names):
        index = ctx.image_columns.index(name)
        renderer = renderer_for(ctx.schema.column(name))
        ns[f"{prefix}{j}"] = renderer.text
        text = f"{prefix}{j}(v)"
        if renderer.kind == "integer":
            text = f"str(v) if type(v) is int else {text}"
        parts.append(f'("" if (v := image[{index}]) is None else {text})')
    return parts[0] if len(parts) == 1 else f"SEP.join(({', '.join(parts)},))"


def _json(value: Any) -> bytes:
    """`value` as JSON, ready for a `bytes %` template (its `%` doubled)."""
    return orjson.dumps(value).replace(b"%", b"%%")


def _metadata_code(meta: dict[str, Any], kind: RecordType, sequence_bound: bool) -> tuple[bytes, list[str]]:
    """
    One record type's `allMetaData` object as a `bytes %` template, in the template's key order with the
    constants written in, and the expressions (JSON bytes) of its `%b` slots in order; `storeDataSequence`
    from `sequence` when the serializer has a stream's sequence, else inline.
    """
    incremental, scale = kind is not RecordType.ROW, 10**SEQUENCE_DIGITS
    own = f"None if (seq := change.sequence) is None else ts // 1000000 * {scale} + seq"
    changing = {
        "checkpoint": "second" if incremental else "dumps(change.checkpoint)",
        "record_primary_value": "dumps(key_text)",
        "timestamp": "second" if incremental else None,
        "storeDataSequence": f"dumps({'sequence(change)' if sequence_bound else own})" if incremental else None,
        "uniqueId": "txn" if incremental else None,
        "transId": "txn" if incremental else None,
    }
    parts, slots = [], []
    for field, constant in meta.items():  # the changing fields' constant is null
        expression = changing.get(field)
        parts.append(_json(field) + (b":%b" if expression else b":" + _json(constant)))
        if expression:
            slots.append(expression)
    return b"{" + b",".join(parts) + b"}", slots


def _branch(ctx: TableContext, kind: RecordType, ns: dict[str, Any]) -> list[str]:
    """
    The branch of one record type; `_Uncovered` when the change lacks what the type needs. The value is one
    `bytes %` of the record's template (constants written in once) and the JSON of its few changing parts:
    the bytes `orjson.dumps` gives for the whole record, at two thirds of its cost.
    """
    keyed, prev, post = _SHAPES[kind]
    needed = sorted({keyed, prev, post} - {""})
    lines = [f"        if kind is {kind.name}:"]
    lines += [f"            {name} = change.{name}" for name in needed]
    missing = " or ".join(f"{name} is None" for name in needed)
    if kind is not RecordType.ROW:
        lines.append("            ts = change.commit_ts_us")
        missing += " or ts is None"
    lines += [f"            if {missing}:", "                raise Uncovered", f"            image = {keyed}"]
    key_text = _text_code(ctx, ctx.key_columns, "k", ns) if ctx.key_columns else "None"
    lines.append(f"            key_text = {key_text}")
    if ctx.partition_columns == ctx.key_columns:
        lines.append("            key = None if key_text is None else key_text.encode()")
    elif ctx.partition_columns:
        lines.append(f"            key = ({_text_code(ctx, ctx.partition_columns, 'p', ns)}).encode()")
    else:
        lines.append("            key = None")
    if kind is not RecordType.ROW:
        lines += ["            second = dumps(str(ts // 1000000))", "            txn = dumps(change.transaction_id)"]
    meta, slots = _metadata_code(metadata_template(ctx), kind, "sequence" in ns)
    ns[f"T_{kind.name}"] = (
        b'{"allMetaData":' + meta + b',"prevStruct":' + (b"%b" if prev else b"null") + b',"recordType":'
        + _json(kind.value) + b',"postStruct":' + (b"%b" if post else b"null") + b"}"
    )  # fmt: skip
    slots += [f"dumps(render({image}))" for image in (prev, post) if image]
    lines.append(f"            return key, T_{kind.name} % ({', '.join(slots)},)")
    return lines


def compile_default_record(
    ctx: TableContext, general: Record, sequence: SortSequence | None = None
) -> Record:
    """
    The record function of `ctx`'s table: change -> (Kafka key, Default value), the same bytes as
    `DefaultSerializer`; `general` (key() and value()) answers for what the compiled body does not cover.
    Only integer indexes and `repr` of field names and record types go in the source: any name is safe.

    :param sequence: the stream's sort sequence for `storeDataSequence`; None: the change's own, inline
    """
    # the compiled image renderer itself (what `render_image_fast` calls): one frame less per image
    ns: dict[str, Any] = {"dumps": orjson.dumps, "render": ctx._render_fast, "SEP": KEY_SEPARATOR,
                          "general": general, "Uncovered": _Uncovered, "FALLBACK": _FALLBACK}  # fmt: skip
    if sequence is not None:
        ns["sequence"] = sequence
    ns.update((kind.name, kind) for kind in _SHAPES)
    lines = ["def record(change):", "    kind = change.record_type", "    try:"]
    for kind in _SHAPES:
        lines += _branch(ctx, kind, ns)
    lines += ["    except FALLBACK:", "        pass", "    return general(change)"]
    exec(compile("\n".join(lines) + "\n", f"<default record {ctx.schema.ref}>", "exec"), ns)
    return ns["record"]  # type: ignore[no-any-return]
