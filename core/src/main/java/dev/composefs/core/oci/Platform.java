package dev.composefs.core.oci;

import java.util.Map;

/** An OCI platform; {@link #current()} is the one images are resolved for. */
public record Platform(String os, String architecture, String variant) {
    /** This machine, in the Go names OCI indexes use. */
    public static Platform current() {
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "amd64";
            case "aarch64", "arm64" -> "arm64";
            case "x86", "i386", "i686" -> "386";
            case "arm" -> "arm";
            case "ppc64le" -> "ppc64le";
            case "s390x" -> "s390x";
            case "riscv64" -> "riscv64";
            default -> System.getProperty("os.arch");
        };
        return new Platform("linux", arch, arch.equals("arm64") ? "v8" : null);
    }

    /** Whether an index entry's platform object is this one (a missing variant matches). */
    boolean matches(Map<String, Object> p) {
        if (p == null) {
            return false;
        }
        Object v = p.get("variant");
        return os.equals(p.get("os")) && architecture.equals(p.get("architecture"))
                && (v == null || variant == null || variant.equals(v));
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant != null ? "/" + variant : "");
    }
}
