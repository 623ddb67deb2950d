import Glibc

/// A bound IPv4 UDP socket for receiving datagrams (the agent's `udp` source), every call through
/// ``system(_:_:_:)``.
public final class UDPSocket: Sendable {
    let descriptor: Int32
    /// `host:port`, for errors.
    public let address: String

    /// Binds `host:port` (an IPv4 address); reads wait at most `receiveTimeout`.
    public init(host: String, port: Int, receiveTimeout: Duration) throws(SystemError) {
        address = "\(host):\(port)"
        descriptor = try system("socket", address) { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        do throws(SystemError) {
            var sockaddress = sockaddr_in()
            sockaddress.sin_family = sa_family_t(AF_INET)
            sockaddress.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            guard (1...65_535).contains(port), inet_pton(AF_INET, host, &sockaddress.sin_addr) == 1 else {
                throw SystemError("inet_pton", address, errno: EINVAL)
            }
            let fd = descriptor
            try system("bind", address) {
                withUnsafePointer(to: &sockaddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            let (seconds, attoseconds) = receiveTimeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            try system("setsockopt", address) {
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    /// Receives one datagram into `buffer`; its length (0 when the wait timed out).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        let n = recv(descriptor, buffer.baseAddress, buffer.count, 0)
        if n >= 0 { return n }
        let number = errno
        if number == EAGAIN || number == EWOULDBLOCK || number == EINTR { return 0 }
        throw SystemError("recv", address, errno: number)
    }

    /// Closes the socket.
    public func close() { Glibc.close(descriptor) }
}
