package dev.composefs.core.sign;

import java.io.IOException;

/** A signature, key or certificate that cannot be used, with the reason as one line. */
public final class SignatureException extends IOException {
    private static final long serialVersionUID = 1L;

    public SignatureException(String message) {
        super(message);
    }

    public SignatureException(String message, Throwable cause) {
        super(message, cause);
    }
}
