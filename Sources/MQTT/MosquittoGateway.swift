internal import CMosquitto
import Glibc

/// The single gateway for libmosquitto return codes: success passes, anything else becomes an ``MQTTError``
/// naming the function, with a code and a retry verdict.
@inline(__always)
func mosquittoCall(_ function: StaticString, _ rc: Int32) throws(MQTTError) {
    if rc == MOSQ_ERR_SUCCESS.rawValue { return }
    throw MQTTError(mosquittoReturnCode: rc, function: "\(function)")
}

extension MQTTError {
    /// Maps a `MOSQ_ERR_*` code.
    init(mosquittoReturnCode rc: Int32, function: String) {
        let text: String
        if rc == MOSQ_ERR_ERRNO.rawValue {
            let saved = errno
            text = "\(String(cString: mosquitto_strerror(rc))): \(String(cString: strerror(saved)))"
        } else {
            text = String(cString: mosquitto_strerror(rc))
        }
        let (code, retriable): (Code, Bool) =
            switch mosq_err_t(rawValue: rc) {
            case MOSQ_ERR_NOMEM: (.outOfMemory, true)
            case MOSQ_ERR_PROTOCOL, MOSQ_ERR_MALFORMED_PACKET, MOSQ_ERR_DUPLICATE_PROPERTY,
                MOSQ_ERR_TOPIC_ALIAS_INVALID:
                (.protocolError, false)
            case MOSQ_ERR_INVAL, MOSQ_ERR_MALFORMED_UTF8: (.invalidArgument, false)
            case MOSQ_ERR_NO_CONN: (.notConnected, true)
            case MOSQ_ERR_CONN_REFUSED: (.connectionRefused, false)
            case MOSQ_ERR_CONN_LOST, MOSQ_ERR_KEEPALIVE, MOSQ_ERR_ADMINISTRATIVE_ACTION: (.connectionLost, true)
            case MOSQ_ERR_TLS, MOSQ_ERR_TLS_HANDSHAKE, MOSQ_ERR_OCSP: (.tls, false)
            case MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_OVERSIZE_PACKET: (.payloadTooLarge, false)
            case MOSQ_ERR_NOT_SUPPORTED, MOSQ_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_RETAIN_NOT_SUPPORTED:
                (.notSupported, false)
            case MOSQ_ERR_AUTH, MOSQ_ERR_ACL_DENIED: (.notAuthorized, false)
            case MOSQ_ERR_ERRNO, MOSQ_ERR_EAI, MOSQ_ERR_LOOKUP, MOSQ_ERR_PROXY: (.connectionFailed, true)
            case MOSQ_ERR_TIMEOUT: (.timeout, true)
            default: (.library, false)
            }
        self.init(code: code, message: text, function: function, returnCode: rc, isRetriable: retriable)
    }

    /// Maps the result of a CONNACK: an MQTT 3.1.1 return code (1…5) or an MQTT 5 reason code (≥ 0x80).
    init(connackCode rc: Int32, version: MQTTProtocolVersion) {
        let text: String
        let code: Code
        let retriable: Bool
        switch version {
        case .v311:
            text = String(cString: mosquitto_connack_string(rc))
            switch rc {
            case 3: (code, retriable) = (.connectionRefused, true)  // server unavailable
            case 4, 5: (code, retriable) = (.notAuthorized, false)  // bad username or password, not authorized
            default: (code, retriable) = (.connectionRefused, false)
            }
        case .v5:
            text = String(cString: mosquitto_reason_string(rc))
            switch rc {
            case 0x86, 0x87, 0x8C: (code, retriable) = (.notAuthorized, false)
            case 0x88, 0x89, 0x97, 0x9F: (code, retriable) = (.connectionRefused, true)
            case 0x95: (code, retriable) = (.payloadTooLarge, false)
            default: (code, retriable) = (.connectionRefused, false)
            }
        }
        self.init(
            code: code, message: "broker refused the connection: \(text)", function: "CONNACK",
            returnCode: rc, isRetriable: retriable)
    }

    static func shutdown(_ function: String) -> MQTTError {
        MQTTError(code: .shutdown, message: "the client was disconnected", function: function, isRetriable: false)
    }
}
