package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** sys/socket.h: a socket pair, and receiving a file descriptor over one (SCM_RIGHTS). */
@SuppressWarnings("checkstyle:TypeName")
public final class sys_socket_h {
    private sys_socket_h() {}

    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;

    public static final StructLayout iovec = MemoryLayout.structLayout(
            C_POINTER.withName("iov_base"),
            C_LONG.withName("iov_len")).withName("iovec");

    public static final StructLayout msghdr = MemoryLayout.structLayout(
            C_POINTER.withName("msg_name"),
            C_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            C_POINTER.withName("msg_iov"),
            C_LONG.withName("msg_iovlen"),
            C_POINTER.withName("msg_control"),
            C_LONG.withName("msg_controllen"),
            C_INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4)).withName("msghdr");

    /** Followed by the data (here one int), at CMSG_DATA: the header rounded up to 8 bytes. */
    public static final StructLayout cmsghdr = MemoryLayout.structLayout(
            C_LONG.withName("cmsg_len"),
            C_INT.withName("cmsg_level"),
            C_INT.withName("cmsg_type")).withName("cmsghdr");

    private static final class socketpair {
        static final MethodHandle HANDLE = Native.downcall("socketpair",
                FunctionDescriptor.of(C_INT, C_INT, C_INT, C_INT, C_POINTER));
    }

    private static final class recvmsg {
        static final MethodHandle HANDLE = Native.downcall("recvmsg",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_INT));
    }

    /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected descriptors. */
    public static int[] socketpair(String what) throws SyscallException {
        int[] out = new int[2];
        Native.call("socketpair", what, (st, a) -> {
            MemorySegment fds = a.allocate(C_INT, 2);
            int r = (int) socketpair.HANDLE.invokeExact(st, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
            out[0] = fds.getAtIndex(C_INT, 0);
            out[1] = fds.getAtIndex(C_INT, 1);
            return r;
        });
        return out;
    }

    /**
     * recvmsg(2) of one message that carries a descriptor (SCM_RIGHTS), which arrives
     * close-on-exec; -1 where the peer closed its end without sending one.
     */
    public static int receiveFd(int sock, String what) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(16);
            MemorySegment iov = arena.allocate(iovec);
            iov.set(ValueLayout.ADDRESS, Native.offsetOf(iovec, "iov_base"), data);
            iov.set(C_LONG, Native.offsetOf(iovec, "iov_len"), data.byteSize());
            long space = cmsghdr.byteSize() + 8; // CMSG_SPACE(sizeof(int))
            MemorySegment control = arena.allocate(space, 8);
            MemorySegment msg = arena.allocate(msghdr);
            msg.set(ValueLayout.ADDRESS, Native.offsetOf(msghdr, "msg_iov"), iov);
            msg.set(C_LONG, Native.offsetOf(msghdr, "msg_iovlen"), 1);
            msg.set(ValueLayout.ADDRESS, Native.offsetOf(msghdr, "msg_control"), control);
            msg.set(C_LONG, Native.offsetOf(msghdr, "msg_controllen"), space);
            long n = 0;
            while (true) {
                try {
                    n = Native.call("recvmsg", what, (st, a) -> (long) recvmsg.HANDLE.invokeExact(st, sock, msg,
                            MSG_CMSG_CLOEXEC));
                    break;
                } catch (SyscallException e) {
                    if (!e.is(Errno.EINTR)) {
                        throw e;
                    }
                }
            }
            long controlLen = msg.get(C_LONG, Native.offsetOf(msghdr, "msg_controllen"));
            if (n == 0 || controlLen < cmsghdr.byteSize() + 4
                    || control.get(C_INT, Native.offsetOf(cmsghdr, "cmsg_level")) != SOL_SOCKET
                    || control.get(C_INT, Native.offsetOf(cmsghdr, "cmsg_type")) != SCM_RIGHTS) {
                return -1;
            }
            return control.get(C_INT, cmsghdr.byteSize());
        }
    }
}
