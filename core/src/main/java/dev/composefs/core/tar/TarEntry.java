package dev.composefs.core.tar;

import java.util.LinkedHashMap;

/**
 * One member of a tar stream with its PAX and GNU extensions applied. Names, link targets and
 * xattr names are raw bytes in Latin-1 strings (one char per byte), xattr values raw bytes, as
 * the archive carried them: nothing is decoded as UTF-8.
 *
 * @param type the typeflag ('0' regular, '1' hardlink, '2' symlink, '3' char, '4' block,
 *     '5' directory, '6' fifo; '\0' and '7' are reported as '0')
 * @param mode the permission bits (07777) only; the type is in {@code type}
 */
public record TarEntry(String name, char type, int mode, long uid, long gid, long size, long mtimeSec,
        int mtimeNsec, String linkName, int devMajor, int devMinor, LinkedHashMap<String, byte[]> xattrs) {
    public static final char REGULAR = '0';
    public static final char HARDLINK = '1';
    public static final char SYMLINK = '2';
    public static final char CHAR = '3';
    public static final char BLOCK = '4';
    public static final char DIRECTORY = '5';
    public static final char FIFO = '6';
}
