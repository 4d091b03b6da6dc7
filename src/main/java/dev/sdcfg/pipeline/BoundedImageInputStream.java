package dev.sdcfg.pipeline;

import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An in-memory {@link javax.imageio.stream.ImageInputStream} that lets a decoder read past the end of the data only
 * a few times, then fails with an {@link IIOException} (not an {@link java.io.EOFException}).
 *
 * <p>Why: TwelveMonkeys' WebP bit reader catches {@code EOFException} and goes on with zero bits, one exception per
 * byte, so a corrupted 80-byte lossless file can keep a core busy for a minute before "decoding" (measured: 32 to
 * 80 s for one of InitImageWebpTest's corrupted fixtures). A valid file only reads past its end while it empties
 * the bit reader's 64-bit buffer, at most one read per bit (measured: 12 to 37 for the test fixtures, 17 for a
 * 512×512 one); past {@link #PAST_END_READS} the decode is abandoned, and InitImage answers it as undecodable.
 */
final class BoundedImageInputStream extends ImageInputStreamImpl {

    /** Reads at or past the end allowed before failing: four times a 64-bit buffer's worth, one read per bit. */
    static final int PAST_END_READS = 256;

    private final byte[] data;
    private int pastEnd;

    BoundedImageInputStream(byte[] data) {
        this.data = data;
    }

    /** How many reads met the end (for tests). */
    int pastEndReads() {
        return pastEnd;
    }

    private int atEnd() throws IIOException {
        if (++pastEnd > PAST_END_READS) {
            throw new IIOException("the image data ends before the image does (the decoder read past its end "
                    + PAST_END_READS + " times)");
        }
        return -1;
    }

    @Override
    public int read() throws IIOException {
        checkClosedQuietly();
        bitOffset = 0;
        if (streamPos >= data.length) {
            return atEnd();
        }
        return data[(int) streamPos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IIOException {
        checkClosedQuietly();
        if (off < 0 || len < 0 || off + len > b.length) {
            throw new IndexOutOfBoundsException();
        }
        bitOffset = 0;
        if (len == 0) {
            return 0;
        }
        if (streamPos >= data.length) {
            return atEnd();
        }
        int n = (int) Math.min(len, data.length - streamPos);
        System.arraycopy(data, (int) streamPos, b, off, n);
        streamPos += n;
        return n;
    }

    @Override
    public long length() {
        return data.length;
    }

    private void checkClosedQuietly() throws IIOException {
        try {
            checkClosed();
        } catch (java.io.IOException e) {
            throw new IIOException("stream closed");
        }
    }
}
