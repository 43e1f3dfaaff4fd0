package dev.composefs.core.tree;

/**
 * A regular file. Either its content is inline ({@code content} non-null, length == size) or it
 * is backed by a file in the object store: {@code payload} is the path relative to the store
 * (e.g. {@code ab/cdef...}) and {@code digest} its fs-verity digest (32 bytes), each optional.
 */
public record RegularFile(Meta meta, long size, byte[] content, String payload, byte[] digest) implements Node {
    public boolean isInline() {
        return content != null;
    }
}
