package dev.composefs.core.oci;

import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.util.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The administrator's policy for the OCI hook (/etc/composefs/oci-hook.json): what a
 * container's annotations may ask root to mount. Annotations come from whoever creates the
 * container (a pod's author, under CRI-O), so they may name only images, stores and signatures
 * below the allowed paths (once every symlink is resolved), set only the allowed options, and
 * never choose a trust anchor. The JSON:
 * {"allowedPaths": [DIR...], "allowedOptions": [OPTION...], "trust": DIR, "requireSignature": BOOL}.
 */
public record HookPolicy(List<Path> allowedPaths, Set<String> allowedOptions, Path trust, boolean requireSignature) {

    public static final Path DEFAULT = Path.of("/etc/composefs/oci-hook.json");

    /** What annotations may set when the policy names nothing. */
    static final Set<String> DEFAULT_OPTIONS = Set.of("ro", "verity", "tryverity", "noatime");

    /** Options that choose paths or identities for root: never an annotation's to set. */
    static final Set<String> NEVER = Set.of("basedir", "upperdir", "workdir", "trust", "signature", "digest", "idmap",
            "uidmap", "gidmap");

    static final String PREFIX = "org.composefs.";

    /** Why a container's annotations are refused (or the policy itself is unusable). */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        public Refused(String message) {
            super(message);
        }
    }

    /** The policy in document json, read from where (named in errors). */
    @SuppressWarnings("unchecked")
    public static HookPolicy parse(byte[] json, String where) throws Refused {
        Map<String, Object> doc;
        try {
            doc = JsonDocument.parse(json, where);
        } catch (IOException e) {
            throw new Refused(e.getMessage());
        }
        for (String key : doc.keySet()) {
            if (!Set.of("allowedPaths", "allowedOptions", "trust", "requireSignature").contains(key)) {
                throw new Refused(where + ": unknown key \"" + key + "\" (allowedPaths, allowedOptions, trust, "
                        + "requireSignature)");
            }
        }
        List<Path> paths = new ArrayList<>();
        for (String p : strings(doc, "allowedPaths", where)) {
            if (!p.startsWith("/")) {
                throw new Refused(where + ": allowedPaths: " + p + " is not an absolute path");
            }
            try {
                paths.add(Path.of(p).toRealPath());
            } catch (IOException e) {
                throw new Refused(where + ": allowedPaths: " + p + ": " + AtomicFile.reason(e));
            }
        }
        Set<String> options = doc.containsKey("allowedOptions")
                ? new LinkedHashSet<>(strings(doc, "allowedOptions", where)) : DEFAULT_OPTIONS;
        for (String o : options) {
            if (NEVER.contains(o)) {
                throw new Refused(where + ": allowedOptions: " + o + "= cannot be left to annotations (paths and "
                        + "trust are the policy's)");
            }
        }
        Object trust = doc.get("trust");
        if (trust != null && !(trust instanceof String t && t.startsWith("/"))) {
            throw new Refused(where + ": trust: not an absolute path");
        }
        Object require = doc.getOrDefault("requireSignature", false);
        if (!(require instanceof Boolean)) {
            throw new Refused(where + ": requireSignature: not true or false");
        }
        return new HookPolicy(List.copyOf(paths), Set.copyOf(options), trust == null ? null : Path.of((String) trust),
                (Boolean) require);
    }

    private static List<String> strings(Map<String, Object> doc, String key, String where) throws Refused {
        Object v = doc.getOrDefault(key, List.of());
        if (!(v instanceof List<?> list) || !list.stream().allMatch(e -> e instanceof String)) {
            throw new Refused(where + ": " + key + ": not a list of strings");
        }
        return list.stream().map(String.class::cast).toList();
    }

    /** The mount, as the annotations ask for it and this policy allows it. */
    public record Request(Path image, String options, String target) {}

    /**
     * The image, the option string and the target the annotations ask for, checked against this
     * policy: paths as they are after every symlink (what the mount will open), the option
     * string rebuilt from checked parts. userNamespace, if not null, is added as idmap=.
     */
    public Request check(Map<String, Object> annotations, Path userNamespace) throws Refused {
        if (annotations.get(PREFIX + "trust") != null) {
            throw new Refused("annotation " + PREFIX + "trust is refused: trust anchors come from the policy only");
        }
        Path image = allowed("image", required(annotations, "image"));
        StringBuilder opts = new StringBuilder("basedir=");
        List<String> stores = MountOptions.splitStores(required(annotations, "basedir"));
        if (stores.isEmpty()) {
            throw new Refused("annotation " + PREFIX + "basedir names no store");
        }
        for (int i = 0; i < stores.size(); i++) {
            opts.append(i > 0 ? ":" : "").append(MountOptions.escape(allowed("basedir", stores.get(i)).toString(), ":"));
        }
        Object digest = annotations.get(PREFIX + "digest");
        if (digest != null) {
            String hex = String.valueOf(digest);
            if (!hex.matches("[0-9a-fA-F]{64}")) {
                throw new Refused("annotation " + PREFIX + "digest: not a sha256 fs-verity digest (64 hex digits)");
            }
            opts.append(",digest=").append(hex);
        }
        Object signature = annotations.get(PREFIX + "signature");
        if (signature == null && requireSignature) {
            throw new Refused("the policy requires a signature: annotation " + PREFIX + "signature is missing");
        }
        if (signature != null) {
            opts.append(",signature=").append(MountOptions.escape(allowed("signature", String.valueOf(signature)).toString(), ""));
            if (trust != null) {
                opts.append(",trust=").append(MountOptions.escape(trust.toString(), ""));
            }
        }
        if (userNamespace != null) {
            opts.append(",idmap=").append(MountOptions.escape(userNamespace.toString(), ""));
        }
        Object extra = annotations.get(PREFIX + "options");
        if (extra != null) {
            for (String[] kv : MountOptions.split(String.valueOf(extra))) {
                if (!allowedOptions.contains(kv[0])) {
                    throw new Refused("annotation " + PREFIX + "options: " + MountOptions.shown(kv[0])
                            + " is not allowed by the policy (allowedOptions: " + String.join(", ", allowedOptions) + ")");
                }
                opts.append(',').append(MountOptions.escape(kv[0], "="));
                if (kv[1] != null) {
                    opts.append('=').append(MountOptions.escape(MountOptions.unescape(kv[1]), ""));
                }
            }
        }
        Object target = annotations.getOrDefault(PREFIX + "target", "/");
        return new Request(image, opts.toString(), String.valueOf(target));
    }

    private static String required(Map<String, Object> annotations, String key) throws Refused {
        Object v = annotations.get(PREFIX + key);
        if (v == null || String.valueOf(v).isEmpty()) {
            throw new Refused("annotation " + PREFIX + key + " is required with " + PREFIX + "image");
        }
        return String.valueOf(v);
    }

    /** value (annotation key's) with every symlink resolved, if it lies below an allowed path. */
    private Path allowed(String key, String value) throws Refused {
        if (!value.startsWith("/")) {
            throw new Refused("annotation " + PREFIX + key + ": " + MountOptions.shown(value) + " is not an absolute path");
        }
        Path real;
        try {
            real = Path.of(value).toRealPath();
        } catch (IOException | RuntimeException e) {
            throw new Refused("annotation " + PREFIX + key + ": " + MountOptions.shown(value) + ": "
                    + (e instanceof IOException io ? AtomicFile.reason(io) : e.getMessage()));
        }
        for (Path a : allowedPaths) {
            if (real.startsWith(a)) {
                return real;
            }
        }
        throw new Refused("annotation " + PREFIX + key + ": " + MountOptions.shown(value)
                + (real.toString().equals(value) ? "" : " (" + real + ")") + " is not below a path the policy allows");
    }

    /** The file a policy is read from must be root's and writable by root only: others could widen it. */
    public static void checkOwner(Path file) throws Refused {
        try {
            int uid = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if (uid != 0 || (mode & 022) != 0) {
                throw new Refused(file + ": the policy must be root's and writable by root only");
            }
        } catch (IOException e) {
            throw new Refused(file + ": " + AtomicFile.reason(e));
        }
    }
}
