"""Decoding conversation tables: UTF-8 with stray Windows-1252 bytes, UTF-16 with a
byte-order mark, and repairs of UTF-8 once decoded as Windows-1252 ("mojibake"); every
repair is reported, never silent."""
import codecs
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .errors import ConversationTableError

__all__ = ['TextRepairs', 'decode_table_bytes', 'fix_mojibake', 'unicode_prefix']


@dataclass
class TextRepairs:
    """What was repaired while decoding a table (reported, never silent)."""
    cp1252_bytes: List[Tuple[int, str]] = field(default_factory=list)  # (line, char)
    mojibake: List[Tuple[str, str]] = field(default_factory=list)  # (source, fragment)

    def __len__(self) -> int:
        return len(self.cp1252_bytes) + len(self.mojibake)

    def summary(self) -> str:
        parts = []
        if self.cp1252_bytes:
            lines = sorted({line for line, _ in self.cp1252_bytes})
            parts.append(f'{len(self.cp1252_bytes)} Windows-1252 byte(s) decoded on '
                         f'line(s) {lines[:10]}{" ..." if len(lines) > 10 else ""}')
        if self.mojibake:
            parts.append(f'{len(self.mojibake)} mojibake sequence(s) repaired (first at '
                         f'{self.mojibake[0][0]}: {self.mojibake[0][1]!r})')
        return '; '.join(parts) if parts else 'none'


def unicode_prefix(data: bytes, path: str) -> Tuple[Optional[str], bytes]:
    """What a byte-order mark says: ``(text, data)`` with the decoded text of a UTF-16
    file (a byte-order mark; what spreadsheet programs write as "Unicode text"), else
    ``(None, data)`` without a UTF-8 byte-order mark, to be decoded as UTF-8.

    Raises:
        ConversationTableError: a UTF-16 byte-order mark before bytes that are not UTF-16.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode('utf-16'), data
        except UnicodeDecodeError as exc:
            raise ConversationTableError(
                f'{path}: starts like UTF-16 (byte-order mark) but byte {exc.start} is not '
                'valid UTF-16; re-save the file as UTF-8') from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return None, data


def decode_table_bytes(data: bytes, path: str = '<bytes>') -> Tuple[str, TextRepairs]:
    """Decode a table that is UTF-8 with stray Windows-1252 bytes (or UTF-16 with a BOM).

    Valid UTF-8 is decoded as such (a BOM is dropped); a file that starts with a UTF-16
    byte-order mark is decoded as UTF-16.  A byte that is not part of a
    valid UTF-8 sequence is decoded as Windows-1252 (MELD's files hold a few, e.g. 0x92
    for a right quote) and reported in the returned :class:`TextRepairs`.

    Raises:
        ConversationTableError: a byte that is neither (0x81, 0x8d, 0x8f, 0x90, 0x9d),
            or a NUL byte (UTF-16 without a byte-order mark, binary files), naming the
            file, line and byte offset.
    """
    repairs = TextRepairs()
    text, data = unicode_prefix(data, path)
    if text is not None:
        return text, repairs
    if b'\x00' in data:
        at = data.index(b'\x00')
        line = data.count(b'\n', 0, at) + 1
        raise ConversationTableError(
            f'{path}: line {line}: NUL byte at offset {at}: the '
            'file looks like UTF-16 or UTF-32 without a byte-order mark, or is not text; '
            're-save it as UTF-8')
    try:
        return data.decode('utf-8'), repairs
    except UnicodeDecodeError:
        pass
    out: List[str] = []
    pos = 0
    while pos < len(data):
        try:
            out.append(data[pos:].decode('utf-8'))
            break
        except UnicodeDecodeError as exc:
            out.append(data[pos:pos + exc.start].decode('utf-8'))
            bad_at = pos + exc.start
            byte = data[bad_at:bad_at + 1]
            line = data.count(b'\n', 0, bad_at) + 1
            try:
                char = byte.decode('cp1252')
            except UnicodeDecodeError:
                raise ConversationTableError(
                    f'{path}: line {line}: byte 0x{byte[0]:02x} at offset {bad_at} is '
                    'neither UTF-8 nor Windows-1252; fix the file\'s encoding '
                    '(e.g. re-save it as UTF-8)') from None
            out.append(char)
            repairs.cp1252_bytes.append((line, char))
            pos = bad_at + 1
    return ''.join(out), repairs


# Runs of characters that UTF-8 bytes become when decoded as Windows-1252 ("â€™").
_MOJIBAKE = re.compile('[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178'
                       '\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]+')


def fix_mojibake(text: str, source: str, repairs: TextRepairs) -> str:
    """Undo UTF-8-read-as-Windows-1252 sequences (``â€™`` -> ``’``), reporting each."""

    def repl(match: 're.Match') -> str:
        frag = match.group(0)
        try:
            fixed = frag.encode('cp1252').decode('utf-8')
        except (UnicodeEncodeError, UnicodeDecodeError):
            return frag
        repairs.mojibake.append((source, frag))
        return fixed

    return _MOJIBAKE.sub(repl, text)
