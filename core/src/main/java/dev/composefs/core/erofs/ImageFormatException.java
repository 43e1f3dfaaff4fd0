package dev.composefs.core.erofs;

import java.io.IOException;

/** An image that is not a well-formed composefs EROFS image (truncated, looping, out of bounds). */
public final class ImageFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public ImageFormatException(String message) {
        super(message);
    }
}
