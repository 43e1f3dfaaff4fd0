package dev.composefs.core.tree;

/** A named pipe. */
public record Fifo(Meta meta) implements Node {}
