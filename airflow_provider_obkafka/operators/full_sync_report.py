"""FullSyncReportOperator: after every chunk of a full sync, one asset event per topic it wrote, and totals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAlias, BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context


class FullSyncReportOperator(BaseOperator):
    """
    Runs once all chunks of a full synchronization have committed. Adds one event per topic written (extra:
    `rows`, `chunks`) to the asset alias, and logs each topic's totals.

    The chunks themselves emit no event: mapped chunks finish side by side, and each adding an event for the
    same topic Asset, not registered before its first event, made concurrent task-state updates race to
    insert it (a unique-key violation that failed the chunks in the API server, issue 14).

    :param results: the chunks' return values, `FullSyncOperator`'s mapped output (templated)
    :param alias: the name of the asset alias the events go through
    :param asset_of: the Assets of a topic (`dag_factory.naming.broker_topic_assets` with the destination
        connection: the Kafka provider's broker form, then the connection-id form); one Asset is taken too
    """

    template_fields: Sequence[str] = ("results",)
    ui_color = "#abebc6"

    def __init__(
        self,
        *,
        results: Iterable[Mapping[str, Any]] | Any,
        alias: str,
        asset_of: Callable[[str], Asset | list[Asset]],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.results = results
        self.alias = alias
        self.asset_of = asset_of

    def execute(self, context: Context) -> dict[str, dict[str, int]]:
        """Sum the chunks per topic, add one asset event per topic; returns the totals per topic."""
        totals = topic_totals(self.results)
        events = context["outlet_events"][AssetAlias(name=self.alias)]
        for topic, total in sorted(totals.items()):
            self.log.info("topic %s: %d rows in %d chunks (%d already committed by an earlier try or run)",
                          topic, total["rows"], total["chunks"], total["skipped"])  # fmt: skip
            found = self.asset_of(topic)
            for asset in found if isinstance(found, list) else [found]:
                events.add(asset, extra={"rows": total["rows"], "chunks": total["chunks"]})
        return totals


def topic_totals(results: Iterable[Mapping[str, Any]] | None) -> dict[str, dict[str, int]]:
    """
    Rows, chunks and skipped chunks per topic, from the chunks' return values (a record, or a list of them;
    None ones left out).
    """
    totals: dict[str, dict[str, int]] = {}
    # a work item of several chunks returns the list of its chunks' records (`pack_work`)
    flat = [item for result in results or () for item in (result if isinstance(result, list) else [result])]
    for result in flat:
        if not isinstance(result, Mapping) or "topic" not in result:
            continue
        total = totals.setdefault(result["topic"], {"rows": 0, "chunks": 0, "skipped": 0})
        total["rows"] += int(result.get("rows") or 0)
        total["chunks"] += 1
        total["skipped"] += int(bool(result.get("skipped")))
    return totals
