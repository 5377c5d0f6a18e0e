"""
The obbinlog double's file index (`devservices/obbinlog/store.py`): the lookups every dump makes (a file by
name, its size, the file after it) agree with the index through rotations, a purge and a restart; and its
dump's packets (`devservices/obbinlog/protocol.py`) are framed as one packet each.
"""

from __future__ import annotations

from devservices.obbinlog import events as ev
from devservices.obbinlog.protocol import MAX_PACKET, Conn
from devservices.obbinlog.store import BinlogStore


def _fill(store: BinlogStore, transactions: int) -> None:
    for n in range(transactions):
        store.append(1_700_000_000 + n, [(ev.QUERY, b"x" * 200)], {"n": n})


def _check_lookups(store: BinlogStore) -> None:
    files = store.listing()
    names = [f.name for f in files]
    for f, after in zip(files, [*names[1:], None], strict=True):
        found = store.find(f.name)
        assert found == f, f"find({f.name!r})"
        assert found is not store.find(f.name), "find gives a copy"
        assert store.size(f.name, -1) == f.size
        assert store.next_name(f.name) == after
    gone = "mysql-bin.000000"
    assert store.find(gone) is None
    assert store.size(gone, -1) == -1
    assert store.next_name(gone) is None
    assert store.is_active(names[-1])


def test_lookups_follow_rotations_a_purge_and_a_restart(tmp_path):
    store = BinlogStore(tmp_path, server_id=1, max_size=1_000)
    _fill(store, 12)
    names = [f.name for f in store.listing()]
    assert len(names) >= 4, "small files: several rotations"
    _check_lookups(store)

    assert store.purge_to(names[1]) is None
    assert [f.name for f in store.listing()] == names[2:]
    assert store.find(names[0]) is None
    assert store.find(names[1]) is None
    assert store.next_name(names[1]) is None, "a purged file has no next file"
    _check_lookups(store)

    _fill(store, 3)
    _check_lookups(store)
    listing = store.listing()
    store.close()

    reopened = BinlogStore(tmp_path, server_id=1, max_size=1_000)
    assert reopened.listing() == listing
    _check_lookups(reopened)

    oldest = listing[0]
    reopened.purge_before(oldest.checkpoint + 1)
    assert [f.name for f in reopened.listing()] == [f.name for f in listing[1:]]
    assert reopened.gtid_purged() == f"{reopened.uuid}:1-{listing[1].first_gno - 1}"
    _check_lookups(reopened)
    reopened.close()


class _Capture:
    """A socket that keeps what is sent (the bytes on the wire, in order)."""

    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def makefile(self, _mode: str) -> None:
        return None


def test_events_go_out_framed_as_one_packet_each_behind_the_ok_byte():
    """`Conn.send_events` writes the bytes `Conn.send` writes for the OK-prefixed events, sequence and all."""
    raws = [b"", b"e" * 10, b"f" * 300, b"g" * (MAX_PACKET - 2), b"h" * (MAX_PACKET - 1)]  # the last: two packets
    raws += [bytes([n % 256]) for n in range(260)]  # the sequence number wraps
    fast, plain = Conn(_Capture(), 1), Conn(_Capture(), 1)  # type: ignore[arg-type]
    fast.seq = plain.seq = 7
    fast.send_events(raws)
    plain.send(*(b"\x00" + raw for raw in raws))
    assert fast.sock.sent == plain.sock.sent
    assert fast.seq == plain.seq
