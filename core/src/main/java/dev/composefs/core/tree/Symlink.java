package dev.composefs.core.tree;

/** A symbolic link; target is a Latin-1 byte string. */
public record Symlink(Meta meta, String target) implements Node {}
