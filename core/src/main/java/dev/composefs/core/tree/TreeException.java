package dev.composefs.core.tree;

import java.io.IOException;

/** A tree that cannot be represented (name too long, xattrs too large, file too big...). */
public final class TreeException extends IOException {
    private static final long serialVersionUID = 1L;

    public TreeException(String message) {
        super(message);
    }
}
