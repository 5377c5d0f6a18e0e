"""Points in the source's history: an OceanBase snapshot (SCN) and a binlog position."""

from __future__ import annotations

from datetime import datetime

import pendulum
from pydantic import BaseModel, ConfigDict, Field


class BinlogPosition(BaseModel):
    """
    A position in the binlog: the next event to read is at `position` in `file`.

    :param file: binlog file name, e.g. `mysql-bin.000003`
    :param position: byte offset of the next event in that file
    :param gtid_set: the executed GTID set at that point, when the server reports one
    :param gtid_flavor: `mysql` (OceanBase Binlog Service, MySQL) or `mariadb`
    """

    model_config = ConfigDict(frozen=True)

    file: str
    position: int = Field(ge=4)
    gtid_set: str | None = None
    gtid_flavor: str | None = None

    def sort_key(self) -> tuple[str, int]:
        """Order positions by file, then offset (binlog files sort by their numeric suffix)."""
        return (self.file, self.position)


class SnapshotPoint(BaseModel):
    """
    A consistent point of the source, taken once when a full sync starts.

    :param scn: OceanBase system change number (`current_scn()`, ns) for `AS OF SNAPSHOT` reads
    :param binlog: the binlog position taken at the same moment, when a binlog endpoint answers
    :param taken_at: when the point was taken (UTC)
    """

    model_config = ConfigDict(frozen=True)

    scn: int | None = None
    binlog: BinlogPosition | None = None
    taken_at: datetime = Field(default_factory=lambda: pendulum.now("UTC"))
