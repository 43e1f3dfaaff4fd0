package dev.composefs.core.systemd;

import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A systemd .mount unit and an fstab line for a composefs mount. systemd knows nothing about
 * basedir=, so every store (and the image) is named in RequiresMountsFor= (fstab:
 * x-systemd.requires-mounts-for=): a store on its own mount is mounted first.
 */
public final class MountUnit {
    private MountUnit() {}

    /** The unit's file name for where, as {@code systemd-escape -p --suffix=mount} gives it. */
    public static String unitName(Path where) {
        return escapePath(where.toString()) + ".mount";
    }

    /** systemd's path escaping: slashes trimmed and folded into '-', other bytes outside [A-Za-z0-9:_.] as \xNN. */
    public static String escapePath(String path) {
        String p = path.replaceAll("/+", "/");
        p = p.replaceAll("^/", "").replaceAll("/$", "");
        if (p.isEmpty()) {
            return "-";
        }
        StringBuilder sb = new StringBuilder();
        byte[] bytes = p.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            int c = bytes[i] & 0xff;
            if (c == '/') {
                sb.append('-');
            } else if ((c == '.' && i == 0) || !(Character.isLetterOrDigit(c) && c < 0x80 || c == ':' || c == '_'
                    || c == '.')) {
                sb.append(String.format("\\x%02x", c));
            } else {
                sb.append((char) c);
            }
        }
        return sb.toString();
    }

    /**
     * The stores named by options (basedir=), checked as mount.composefs checks them: systemd
     * runs the helper without -s, so an option it does not know would fail every start.
     */
    private static List<Path> stores(String options) throws MountException {
        return MountOptions.parse(options).basedirs();
    }

    /** The mount paths systemd must have before this one: the stores and the image's directory. */
    private static Set<String> requires(Path image, String options) throws MountException {
        Set<String> out = new LinkedHashSet<>();
        for (Path b : stores(options)) {
            out.add(b.toAbsolutePath().normalize().toString());
        }
        out.add(image.toAbsolutePath().normalize().toString());
        return out;
    }

    /** The unit file's text. */
    public static String unit(Path image, Path where, String options, String wantedBy) throws MountException {
        check(image, where);
        noControlCharacters("options", options);
        noControlCharacters("--wanted-by", wantedBy);
        List<String> req = new ArrayList<>();
        for (String r : requires(image, options)) {
            req.add(quote(r));
        }
        return "# " + unitName(where) + ", made by composefs mount-unit\n"
                + "[Unit]\n"
                + "Description=composefs image " + percents(image.toString()) + "\n"
                + "RequiresMountsFor=" + percents(String.join(" ", req)) + "\n"
                + "\n"
                + "[Mount]\n"
                + "What=" + percents(image.toAbsolutePath().normalize().toString()) + "\n"
                + "Where=" + percents(where.toAbsolutePath().normalize().toString()) + "\n"
                + "Type=composefs\n"
                + "Options=" + percents(options) + "\n"
                + "\n"
                + "[Install]\n"
                + "WantedBy=" + wantedBy + "\n";
    }

    /** The same mount as an /etc/fstab line, with x-systemd.requires-mounts-for= per store. */
    public static String fstabLine(Path image, Path where, String options) throws MountException {
        check(image, where);
        noControlCharacters("options", options);
        StringBuilder opts = new StringBuilder(options);
        for (String r : requires(image, options)) {
            if (r.equals(image.toAbsolutePath().normalize().toString())) {
                continue; // systemd adds the image (an absolute What=) by itself
            }
            opts.append(",x-systemd.requires-mounts-for=").append(r.replace("\\", "\\\\").replace(",", "\\,"));
        }
        return fstab(image.toAbsolutePath().normalize().toString()) + " "
                + fstab(where.toAbsolutePath().normalize().toString()) + " composefs " + fstab(opts.toString())
                + " 0 0\n";
    }

    private static void check(Path image, Path where) throws MountException {
        if (!image.isAbsolute() || !where.isAbsolute()) {
            throw MountException.usage("IMAGE and WHERE must be absolute paths (systemd resolves no relative ones)");
        }
        noControlCharacters("IMAGE", image.toString());
        noControlCharacters("WHERE", where.toString());
    }

    /**
     * A unit file is line-based: a newline in a value would start a setting or a section of its
     * own (an ExecStartPre= that root runs), and systemd reads no escape for one in these settings.
     */
    private static void noControlCharacters(String what, String value) throws MountException {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw MountException.usage(what + " holds a control character (" + String.format("\\x%02x", (int) c)
                        + " at " + i + "): refused in a unit or an fstab line");
            }
        }
    }

    /** A path in a space-separated unit setting: quoted where it holds a space. */
    private static String quote(String path) {
        return path.indexOf(' ') >= 0 || path.indexOf('"') >= 0 ? "\"" + path.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
                : path;
    }

    /** '%' starts a specifier in unit files. */
    private static String percents(String s) {
        return s.replace("%", "%%");
    }

    /** fstab fields: whitespace and backslash octal-escaped, as getmntent reads them. */
    private static String fstab(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            switch (c) {
                case ' ' -> sb.append("\\040");
                case '\t' -> sb.append("\\011");
                case '\n' -> sb.append("\\012");
                case '\\' -> sb.append("\\134");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
