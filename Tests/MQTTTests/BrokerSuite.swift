import Testing

/// Every test that needs a real broker lives under this suite: serialized (two cores, and a flood test that
/// wants the machine to itself), each test with its own Mosquitto on a free loopback port.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BrokerSuite {}
