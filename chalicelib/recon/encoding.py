"""The text encodings of the sides' files: UTF-8 unless the manifest declares another.

Merchants in China export CSV files from Excel in GBK; GB18030 is its superset, so a file
declared `"encoding": "gb18030"` may be either. The engine reads UTF-8 only: a declared
file is decoded strictly and written out as UTF-8 into the run's scratch folder first,
and the engine reads that copy (the manifest's checksum and row count stay the upload's).
A file that is not valid in its encoding is never guessed at or mangled: the batch is
INVALID, naming the file, the line and the byte offset of the first bad byte.
"""
import codecs
from pathlib import Path
from typing import Optional

UTF8, GB18030 = "utf-8", "gb18030"
ENCODINGS = (UTF8, GB18030)
CHUNK = 4 << 20


def canonical(name) -> Optional[str]:
    """The encoding a manifest names ("UTF-8", "utf8", "GB18030", ...), None if not supported."""
    if not isinstance(name, str):
        return None
    folded = name.strip().lower().replace("_", "-")
    return {"utf-8": UTF8, "utf8": UTF8, "gb18030": GB18030}.get(folded)


class BadBytes(ValueError):
    """A file's bytes are not valid text in its encoding."""

    def __init__(self, encoding: str, line: int, offset: int):
        self.encoding, self.line, self.offset = encoding, line, offset
        super().__init__(f"line {line} (byte offset {offset}) is not valid {encoding.upper()} text")


def _line_of(path: Path, offset: int) -> int:
    """The 1-based line number of byte `offset`."""
    newlines, read = 0, 0
    with open(path, "rb") as stream:
        while read < offset:
            chunk = stream.read(min(CHUNK, offset - read))
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            read += len(chunk)
    return newlines + 1


class Checker:
    """Feeds a file's chunks through a strict decoder; remembers where the first bad byte is."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._seen = 0                    # bytes fed so far
        self.bad: Optional[int] = None    # byte offset of the first bad byte

    def _pending(self) -> int:
        state = self._decoder.getstate()
        return len(state[0]) if isinstance(state[0], (bytes, bytearray)) else 0

    def feed(self, chunk, final: bool = False) -> Optional[str]:
        """The chunk's text (None once a bad byte was found)."""
        if self.bad is not None:
            return None
        pending = self._pending()
        try:
            text = self._decoder.decode(bytes(chunk), final)
        except UnicodeDecodeError as error:
            self.bad = self._seen - pending + error.start
            return None
        self._seen += len(chunk)
        return text

    def raise_if_bad(self, path: Path) -> None:
        if self.bad is not None:
            raise BadBytes(self.encoding, _line_of(path, self.bad), self.bad)


def to_utf8(source: Path, target: Path, encoding: str) -> None:
    """Write `source`, text in `encoding`, as UTF-8 to `target`; BadBytes at the first bad byte."""
    checker = Checker(encoding)
    with open(source, "rb") as stream, open(target, "w", encoding="utf-8", newline="") as out:
        while True:
            chunk = stream.read(CHUNK)
            text = checker.feed(chunk, final=not chunk)
            if text is None:
                break
            out.write(text)
            if not chunk:
                break
    checker.raise_if_bad(source)

