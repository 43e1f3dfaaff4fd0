package dev.composefs.core.mount;

import dev.composefs.bindings.sys_mount_h;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * What mount.composefs is asked for, with upstream's options: {@code basedir=A[:B...]},
 * {@code digest=HEX} (implies verity), {@code verity}, {@code tryverity}, {@code idmap=PATH},
 * {@code upperdir=}, {@code workdir=}, {@code ro}, {@code rw}; plus {@code uidmap=}/{@code gidmap=}
 * (INSIDE:OUTSIDE:COUNT, several joined by '/'), for which the orchestrator makes the user
 * namespace itself. mountAttrs holds the generic VFS flags mount(8) passes on (nosuid, nodev,
 * noexec, noatime, nodiratime) as MOUNT_ATTR_* bits.
 */
public record MountOptions(List<Path> basedirs, byte[] digest, boolean verity, boolean tryVerity, Path idmap,
        List<IdMapping> uidmap, List<IdMapping> gidmap, Path upperdir, Path workdir, boolean readOnly,
        long mountAttrs, Path signature, Path trust, Fuse fuse) {

    /**
     * fuse: serve through FUSE (composefs-fuse) rather than the kernel's mounts; noacl: the
     * kernel does not enforce the image's POSIX ACLs there; allow_other: other users may enter.
     */
    public record Fuse(boolean requested, boolean noacl, boolean allowOther) {
        static final Fuse NONE = new Fuse(false, false, false);
    }

    /** Where trust= looks when signature= is given without it: certificates (PEM or DER), one or more per file. */
    public static final Path DEFAULT_TRUST = Path.of("/etc/composefs/trust.d");

    /** One extent of an id mapping, as in /proc/PID/uid_map. */
    public record IdMapping(long inside, long outside, long count) {}

    /**
     * verity=require for the overlay: asked directly, or implied by digest= as upstream does.
     * digest= together with tryverity still requires the image digest but enforces the objects'
     * fs-verity only where kernel and stores can (for stores on filesystems without fs-verity).
     */
    public boolean requireVerity() {
        return verity || ((digest != null || signature != null) && !tryVerity);
    }

    /** trust=, or the default trust directory. */
    public Path trustOrDefault() {
        return trust != null ? trust : DEFAULT_TRUST;
    }

    /** The same options with every path absolute (overlayfs shows layer paths in mountinfo). */
    public MountOptions absolute() {
        List<Path> absolute = new ArrayList<>(basedirs.size()); // a loop: streams are 61 classes on a mount's path
        for (Path b : basedirs) {
            absolute.add(b.toAbsolutePath());
        }
        return new MountOptions(List.copyOf(absolute), digest, verity, tryVerity,
                idmap, uidmap, gidmap, upperdir == null ? null : upperdir.toAbsolutePath(),
                workdir == null ? null : workdir.toAbsolutePath(), readOnly, mountAttrs, signature, trust, fuse);
    }

    /** Parses the -o string as upstream's helper does: comma-separated, a backslash escapes the next character. */
    public static MountOptions parse(String options) throws MountException {
        return parse(options, UnknownOption.REFUSE);
    }

    /** What to do with an option this helper does not know: refuse (default) or warn (mount -s, sloppy). */
    @FunctionalInterface
    public interface UnknownOption {
        UnknownOption REFUSE = key -> {
            throw MountException.usage("unsupported option '" + shown(key) + "'");
        };

        void accept(String key) throws MountException;
    }

    public static MountOptions parse(String options, UnknownOption unknown) throws MountException {
        return parse(List.of(options == null ? "" : options), unknown);
    }

    /**
     * Several -o arguments: each is split on its own, so a trailing backslash in one cannot
     * escape the comma that would join it to the next.
     */
    public static MountOptions parse(List<String> optionArgs, UnknownOption unknown) throws MountException {
        List<String[]> all = new ArrayList<>();
        for (String arg : optionArgs) {
            all.addAll(split(arg));
        }
        List<Path> basedirs = new ArrayList<>();
        byte[] digest = null;
        boolean verity = false;
        boolean tryVerity = false;
        boolean ro = false;
        Path idmap = null;
        Path upper = null;
        Path work = null;
        Path signature = null;
        Path trust = null;
        List<IdMapping> uidmap = List.of();
        List<IdMapping> gidmap = List.of();
        long attrs = 0;
        boolean fuse = false;
        boolean noacl = false;
        boolean allowOther = false;
        for (String[] kv : all) {
            String key = kv[0];
            String value = key.equals("basedir") ? kv[1] : unescape(kv[1]);
            switch (key) {
                case "basedir" -> {
                    // A later basedir= replaces an earlier one, as in upstream's helper: mount(8)
                    // puts fstab's options first and the command line's after them.
                    basedirs.clear();
                    for (String b : splitStores(need(key, value))) {
                        basedirs.add(Path.of(b));
                    }
                }
                case "digest" -> {
                    String hex = need(key, value);
                    try {
                        digest = HexFormat.of().parseHex(hex);
                    } catch (IllegalArgumentException e) {
                        digest = null;
                    }
                    if (digest == null || digest.length != 32) {
                        throw MountException.usage("digest=" + shown(hex) + ": not a sha256 fs-verity digest (64 hex digits)");
                    }
                }
                case "verity" -> verity = flag(key, value);
                case "tryverity" -> tryVerity = flag(key, value);
                case "ro" -> ro = flag(key, value);
                case "rw" -> ro = !flag(key, value);
                case "idmap" -> idmap = Path.of(need(key, value));
                case "uidmap" -> uidmap = mapping(key, need(key, value));
                case "gidmap" -> gidmap = mapping(key, need(key, value));
                case "upperdir" -> upper = Path.of(need(key, value));
                case "signature" -> signature = Path.of(need(key, value));
                case "trust" -> trust = Path.of(need(key, value));
                case "workdir" -> work = Path.of(need(key, value));
                case "fuse" -> fuse = flag(key, value);
                case "noacl" -> noacl = flag(key, value);
                case "allow_other" -> allowOther = flag(key, value);
                case "nosuid" -> attrs |= flag(key, value) ? sys_mount_h.MOUNT_ATTR_NOSUID : 0;
                case "nodev" -> attrs |= flag(key, value) ? sys_mount_h.MOUNT_ATTR_NODEV : 0;
                case "noexec" -> attrs |= flag(key, value) ? sys_mount_h.MOUNT_ATTR_NOEXEC : 0;
                case "noatime" -> attrs |= flag(key, value) ? sys_mount_h.MOUNT_ATTR_NOATIME : 0;
                case "nodiratime" -> attrs |= flag(key, value) ? sys_mount_h.MOUNT_ATTR_NODIRATIME : 0;
                // Defaults, and options that only mean something to mount(8) or systemd, which
                // mount(8) passes on to helpers anyway: accepted, no effect on the mount.
                case "suid", "dev", "exec", "atime", "diratime", "relatime", "defaults", "auto", "noauto",
                        "nofail", "_netdev", "user", "nouser", "users", "owner", "group", "comment", "" -> { }
                default -> {
                    if (!key.startsWith("x-")) {
                        unknown.accept(shown(key));
                    }
                }
            }
        }
        if (basedirs.isEmpty()) {
            throw MountException.usage("no object store given: basedir=PATH[:PATH...] is required");
        }
        if ((upper == null) != (work == null)) {
            throw MountException.usage("upperdir= and workdir= go together");
        }
        if (idmap != null && !uidmap.isEmpty()) {
            throw MountException.usage("idmap= and uidmap= exclude each other");
        }
        if (uidmap.isEmpty() && !gidmap.isEmpty()) {
            throw MountException.usage("gidmap= needs uidmap=");
        }
        if (trust != null && signature == null) {
            throw MountException.usage("trust= goes with signature=");
        }
        return new MountOptions(List.copyOf(basedirs), digest, verity, tryVerity, idmap, uidmap,
                gidmap.isEmpty() ? uidmap : gidmap, upper, work, ro, attrs, signature, trust,
                fuse || noacl || allowOther ? new Fuse(fuse, noacl, allowOther) : Fuse.NONE);
    }

    private static String need(String key, String value) throws MountException {
        if (value == null || value.isEmpty()) {
            throw MountException.usage("option '" + shown(key) + "' needs a value");
        }
        return value;
    }

    private static boolean flag(String key, String value) throws MountException {
        if (value != null) {
            throw MountException.usage("option '" + shown(key) + "' takes no value");
        }
        return true;
    }

    private static List<IdMapping> mapping(String key, String value) throws MountException {
        List<IdMapping> out = new ArrayList<>();
        for (String extent : value.split("/")) {
            String[] f = extent.split(":");
            try {
                if (f.length != 3) {
                    throw new NumberFormatException();
                }
                IdMapping m = new IdMapping(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]));
                if (m.inside() < 0 || m.outside() < 0 || m.count() < 1 || m.inside() + m.count() > 1L << 32
                        || m.outside() + m.count() > 1L << 32) {
                    throw new NumberFormatException();
                }
                out.add(m);
            } catch (NumberFormatException e) {
                throw MountException.usage(key + "=" + shown(value) + ": expected INSIDE:OUTSIDE:COUNT[/...] with ids below 2^32");
            }
        }
        return List.copyOf(out);
    }

    /**
     * Splits at unescaped commas into {key, value-or-null}. A backslash keeps the next character
     * literally; in values the backslashes stay for now, so that basedir= can tell an escaped
     * ':' from a separator ({@link #unescape} removes them).
     */
    public static List<String[]> split(String s) {
        List<String[]> out = new ArrayList<>();
        StringBuilder key = new StringBuilder();
        StringBuilder value = null;
        for (int i = 0; i <= s.length(); i++) {
            char c = i < s.length() ? s.charAt(i) : ',';
            if (c == '\\' && i + 1 < s.length()) {
                if (value != null) {
                    value.append(c);
                }
                (value != null ? value : key).append(s.charAt(++i));
            } else if (c == ',') {
                if (key.length() > 0 || value != null) {
                    out.add(new String[] {key.toString(), value == null ? null : value.toString()});
                }
                key.setLength(0);
                value = null;
            } else if (c == '=' && value == null) {
                value = new StringBuilder();
            } else {
                (value != null ? value : key).append(c);
            }
        }
        return out;
    }

    /**
     * value written so that {@link #split} and {@link #unescape} give it back: a backslash before
     * each backslash and comma, and before each of extra (':' for a store path in basedir=).
     */
    public static String escape(String value, String extra) {
        StringBuilder sb = new StringBuilder(value.length() + 8);
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\\' || c == ',' || extra.indexOf(c) >= 0) {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.toString();
    }

    /** An option as an error message shows it: cut after 100 characters, so a huge -o does not flood the log. */
    public static String shown(String s) {
        return s.length() <= 100 ? s : s.substring(0, 100) + "... (" + s.length() + " characters)";
    }

    /** A value with its escapes resolved: each backslash keeps the character after it. */
    public static String unescape(String v) {
        if (v == null || v.indexOf('\\') < 0) {
            return v;
        }
        StringBuilder sb = new StringBuilder(v.length());
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            sb.append(c == '\\' && i + 1 < v.length() ? v.charAt(++i) : c);
        }
        return sb.toString();
    }

    /** basedir=A:B with '\\:' for a ':' inside a path (as the kernel composefs driver takes it). */
    public static List<String> splitStores(String raw) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i <= raw.length(); i++) {
            char c = i < raw.length() ? raw.charAt(i) : ':';
            if (c == '\\' && i + 1 < raw.length()) {
                cur.append(c).append(raw.charAt(++i));
            } else if (c == ':') {
                if (cur.length() > 0) {
                    out.add(unescape(cur.toString()));
                }
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        return out;
    }
}
