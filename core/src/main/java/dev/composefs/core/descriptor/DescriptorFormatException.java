package dev.composefs.core.descriptor;

import java.io.IOException;

/** A file that is not a well-formed composefs driver descriptor (truncated, out of bounds, unsorted, looping). */
public final class DescriptorFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public DescriptorFormatException(String message) {
        super(message);
    }
}
