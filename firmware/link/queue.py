"""Store-and-forward queue on flash: a bounded pool of fixed-size slots that survives reboots and power cuts.

Layout of the data file, `SLOTS` slots of 68 bytes, each holding one frame:

    0  u8   0xA5 magic
    1  u32  seq: record number, 1, 2, 3... (little-endian, as every field)
    5  u32  t_min: device time in minutes when queued (0 = unknown)
    9  u8   frame length, 1-51
   10  51   frame, zero-padded
   61  u16  CRC-16/CCITT-FALSE of bytes 0-60
   63  u32  seq again (trailer)
   67  u8   0

A record counts only if magic, CRC and both copies of seq agree. A power cut while a slot is written
leaves the new bytes before the cut and the old ones after it: the header's seq is new and the trailer's
old (or the header still entirely old), so a torn slot never passes for a record it is not. Only the record
being written can be lost; a slot is overwritten only when its record was delivered or is being evicted.

Delivery order is by seq. `ack(seq)` marks everything up to seq delivered; the pointer goes to `<path>.ack`
in two alternating 12-byte copies (magic, seq, CRC, seq), read back as the newest valid one, every
`flush_every` acks and whenever the queue empties (a reboot in between re-sends at most that many frames:
the gateway drops them as duplicates). When every slot holds an undelivered frame, the oldest status
frame (type 0x1, the low nibble of byte 0) is evicted first; events, boot and acknowledgement frames go
only when no status frame is left. Pure Python over `open()` (injectable, for power-cut tests).
"""
import struct
from array import array

from firmware.link.crc import crc16

SLOT = 68
MAX_FRAME = 51
MAGIC = 0xA5
ACK_MAGIC = 0xAC
ACK_COPY = 12
STATUS_TYPE = 0x1
DEFAULT_SLOTS = 512
_FREE, _STATUS, _KEEP = 0, 1, 2


class FrameQueue:
    def __init__(self, path, slots=DEFAULT_SLOTS, flush_every=8, opener=open):
        self.path = path
        self.ack_path = path + ".ack"
        self.capacity = slots
        self.flush_every = flush_every
        self._open = opener
        self._seq = array("I", [0] * slots)
        self._kind = bytearray(slots)
        self._head = None  # (slot, seq) of the oldest record, as peek() last found it
        self._count = [slots, 0, 0]  # slots per kind (_FREE, _STATUS, _KEEP): an empty queue costs no scan
        self._nfile = 0  # whole slots in the data file
        self._cursor = 0
        self._ack_copy = 0
        self._unflushed = 0
        self.acked = 0
        self.stats = {"appended": 0, "dropped_status": 0, "dropped_other": 0, "corrupt": 0, "stale": 0}
        self._load()

    # ------------------------------------------------------------------ loading

    def _load(self):
        self.acked = self._load_ack()
        top = self.acked
        buf = bytearray(SLOT)
        try:
            f = self._open(self.path, "rb")
        except OSError:
            f = None
        if f is not None:
            try:
                i = 0
                while i < self.capacity and f.readinto(buf) == SLOT:
                    seq = _valid(buf)
                    if seq:
                        top = max(top, seq)
                        if seq > self.acked:
                            self._seq[i] = seq
                            self._set(i, _STATUS if buf[10] & 0x0F == STATUS_TYPE else _KEEP)
                    elif buf[0] or buf[63]:
                        self.stats["corrupt"] += 1
                    i += 1
                self._nfile = i
            finally:
                f.close()
        self._next = top + 1
        self._cursor = self._nfile % self.capacity if self.capacity else 0

    def _load_ack(self):
        try:
            f = self._open(self.ack_path, "rb")
        except OSError:
            return 0
        try:
            data = f.read(2 * ACK_COPY)
        finally:
            f.close()
        best, best_copy = 0, 1
        for c in range(2):
            rec = data[c * ACK_COPY:(c + 1) * ACK_COPY]
            if len(rec) == ACK_COPY and rec[0] == ACK_MAGIC:
                seq, crc, tail = struct.unpack("<IHI", rec[1:11])
                if seq == tail and crc == crc16(rec, 0xFFFF, 0, 5) and seq >= best:
                    best, best_copy = seq, c
        self._ack_copy = 1 - best_copy  # overwrite the older copy next
        return best

    # ------------------------------------------------------------------ writing

    def _write_at(self, path, offset, data):
        try:
            f = self._open(path, "r+b")
        except OSError:
            f = self._open(path, "wb")
        try:
            f.seek(offset)
            f.write(data)
        finally:
            f.close()

    def _free_slot(self):
        if self._nfile < self.capacity:
            return self._nfile
        n = self.capacity
        for k in range(n):
            i = (self._cursor + k) % n
            if self._kind[i] == _FREE:
                return i
        return -1

    def _victim(self):
        best = -1
        for want in (_STATUS, _KEEP):
            for i in range(self.capacity):
                if self._kind[i] == want and (best < 0 or self._seq[i] < self._seq[best]):
                    best = i
            if best >= 0:
                self.stats["dropped_status" if want == _STATUS else "dropped_other"] += 1
                return best
        return -1

    def append(self, frame, t_min=0):
        """Store a frame; returns its seq. Raises ValueError for an empty or oversized frame, OSError when
        the flash write fails (the caller reports a storage fault)."""
        n = len(frame)
        if not 1 <= n <= MAX_FRAME:
            raise ValueError("a queued frame has 1-%d bytes, got %d" % (MAX_FRAME, n))
        slot = self._free_slot()
        if slot < 0:
            slot = self._victim()
        seq = self._next
        rec = bytearray(SLOT)
        struct.pack_into("<BIIB", rec, 0, MAGIC, seq, t_min & 0xFFFFFFFF, n)
        rec[10:10 + n] = frame
        struct.pack_into("<HI", rec, 61, crc16(rec, 0xFFFF, 0, 61), seq)
        # Forget the slot's old record first: if the write fails half-way the slot holds nothing valid.
        self._set(slot, _FREE)
        self._write_at(self.path, slot * SLOT, rec)
        self._next = seq + 1
        self._seq[slot] = seq
        self._set(slot, _STATUS if frame[0] & 0x0F == STATUS_TYPE else _KEEP)
        if slot == self._nfile:
            self._nfile += 1
        self._cursor = (slot + 1) % self.capacity
        self.stats["appended"] += 1
        return seq

    # ------------------------------------------------------------------ reading and acknowledging

    def _set(self, slot, kind):
        self._count[self._kind[slot]] -= 1
        self._count[kind] += 1
        self._kind[slot] = kind

    def _head_slot(self, after_seq=0):
        best = -1
        if not self._count[_STATUS] and not self._count[_KEEP]:
            return best
        floor = max(after_seq, self.acked)
        for i in range(self.capacity):
            if self._kind[i] and self._seq[i] > floor and (best < 0 or self._seq[i] < self._seq[best]):
                best = i
        return best

    def _read_slot(self, slot):
        f = self._open(self.path, "rb")
        try:
            f.seek(slot * SLOT)
            rec = f.read(SLOT)
        finally:
            f.close()
        if len(rec) != SLOT or _valid(rec) != self._seq[slot]:
            return None
        return rec

    def peek(self, after_seq=0, now_min=None, max_age_min=None):
        """(seq, frame) of the oldest undelivered frame with seq > after_seq, or None.

        With now_min and max_age_min, status frames older than that are dropped on the way (a status
        frame's 16-bit minute stamp can only be placed within about 44 days)."""
        while True:
            slot = self._head_slot(after_seq)
            if slot < 0:
                return None
            rec = self._read_slot(slot)
            seq = self._seq[slot]
            if rec is None:  # damaged since it was loaded: skip it
                self._set(slot, _FREE)
                self.stats["corrupt"] += 1
                continue
            t_min = struct.unpack_from("<I", rec, 5)[0]
            if (max_age_min is not None and now_min is not None and t_min and self._kind[slot] == _STATUS
                    and now_min - t_min > max_age_min):
                self._set(slot, _FREE)
                self.stats["stale"] += 1
                continue
            if after_seq <= self.acked:
                self._head = (slot, seq)  # ack(seq) of the head frees this one slot, without a scan
            return seq, bytes(rec[10:10 + rec[9]])

    def ack(self, seq):
        """Everything up to seq has been delivered."""
        if seq <= self.acked:
            return
        head = self._head
        self._head = None
        if head is not None and head[1] == seq and self._kind[head[0]] and self._seq[head[0]] == seq:
            self._set(head[0], _FREE)  # the oldest record: nothing else lies at or below seq
        else:
            for i in range(self.capacity):
                if self._kind[i] and self._seq[i] <= seq:
                    self._set(i, _FREE)
        self.acked = seq
        self._unflushed += 1
        if self._unflushed >= self.flush_every or not len(self):
            self.flush()

    def flush(self):
        """Write the delivery pointer now."""
        if not self._unflushed:
            return
        rec = bytearray(ACK_COPY)
        struct.pack_into("<BI", rec, 0, ACK_MAGIC, self.acked)
        struct.pack_into("<HI", rec, 5, crc16(rec, 0xFFFF, 0, 5), self.acked)
        copy = self._ack_copy
        if copy == 1:
            try:
                f = self._open(self.ack_path, "rb")
                f.close()
            except OSError:
                copy = 0  # a new file starts with copy 0
        self._write_at(self.ack_path, copy * ACK_COPY, rec)
        self._ack_copy = 1 - copy
        self._unflushed = 0

    def __len__(self):
        return self._count[_STATUS] + self._count[_KEEP]

    def has_priority(self):
        """True when an event, boot or acknowledgement frame waits (they may overdraw the budget)."""
        return self._count[_KEEP] > 0


def _valid(rec):
    """seq of a well-formed slot, else 0."""
    if rec[0] != MAGIC or not 1 <= rec[9] <= MAX_FRAME:
        return 0
    seq = struct.unpack_from("<I", rec, 1)[0]
    crc, tail = struct.unpack_from("<HI", rec, 61)
    if seq != tail or crc != crc16(rec, 0xFFFF, 0, 61):
        return 0
    return seq
