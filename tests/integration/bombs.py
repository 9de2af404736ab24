"""Decompression bombs as raw record batches, for test_limits.py and
tests/bench/bomb_latency.py. Written out here, independently of the
broker's codec (as test_bad_input.py's encoders are).

Codecs: gzip, zstd, lz4 (frame), snappy-raw (one raw block, as librdkafka
frames it) and snappy-xerial (snappy-java's framing in 64 KiB blocks, as
the Java client frames it). Record sections are built from chunks so that
hundreds of MiB of zeros are never held at once (raw snappy excepted: it
compresses one block).
"""
import time
import zlib

from test_bad_input import crc32c, i8, i16, i32, i64, u32, varint

CODEC_IDS = {"gzip": 1, "snappy-raw": 2, "snappy-xerial": 2, "lz4": 3, "zstd": 4}


def compress(codec, chunks):
    if codec == "gzip":
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
        return b"".join(z.compress(c) for c in chunks) + z.flush()
    if codec == "zstd":
        import zstandard
        z = zstandard.ZstdCompressor().compressobj()
        return b"".join(z.compress(c) for c in chunks) + z.flush()
    if codec == "lz4":
        import lz4.frame
        z = lz4.frame.LZ4FrameCompressor(block_size=lz4.frame.BLOCKSIZE_MAX4MB)
        return z.begin() + b"".join(z.compress(c) for c in chunks) + z.flush()
    import snappy
    if codec == "snappy-raw":
        return snappy.compress(b"".join(chunks))
    if codec != "snappy-xerial":
        raise ValueError(codec)
    out = [b"\x82SNAPPY\x00" + i32(1) + i32(1)]
    for c in chunks:
        for pos in range(0, len(c), 65536):
            block = snappy.compress(c[pos:pos + 65536])
            out.append(i32(len(block)) + block)
    return b"".join(out)


def zero_chunks(total):
    mib = b"\0" * (1 << 20)
    for _ in range(total >> 20):
        yield mib
    if total & ((1 << 20) - 1):
        yield b"\0" * (total & ((1 << 20) - 1))


def big_record(value_len):
    """One record with no key and `value_len` zero bytes of value, as chunks."""
    prefix = i8(0) + varint(0) + varint(0) + varint(-1) + varint(value_len)
    yield varint(len(prefix) + value_len + 1) + prefix
    yield from zero_chunks(value_len)
    yield b"\0"  # header count


def batch(codec, chunks, count=1):
    """A magic-2 batch of `count` records whose records section is `chunks`
    compressed with `codec`, with a valid CRC."""
    payload = compress(codec, chunks)
    ts = int(time.time() * 1000)
    after_crc = (i16(CODEC_IDS[codec]) + i32(count - 1) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1)
                 + i32(count) + payload)
    return i64(0) + i32(4 + 1 + 4 + len(after_crc)) + i32(-1) + i8(2) + u32(crc32c(after_crc)) + after_crc
