package dev.composefs.core.tree;

/** A unix socket inode. */
public record Socket(Meta meta) implements Node {}
