internal import CMosquitto
import Glibc

/// Converts between ``MQTTPublishProperties`` and libmosquitto property lists.
enum MQTTProperties {
    /// Reads the properties a received message carries.
    static func read(_ list: OpaquePointer?) -> MQTTPublishProperties {
        guard let list else { return MQTTPublishProperties() }
        var result = MQTTPublishProperties()
        var expiry: UInt32 = 0
        if mosquitto_property_read_int32(list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue), &expiry, false) != nil
        {
            result.messageExpiry = expiry
        }
        var name: UnsafeMutablePointer<CChar>?
        var value: UnsafeMutablePointer<CChar>?
        var cursor = mosquitto_property_read_string_pair(
            list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value,
            false)
        while cursor != nil {
            if let name, let value {
                result.userProperties.append(MQTTUserProperty(String(cString: name), String(cString: value)))
            }
            free(name)
            free(value)
            name = nil
            value = nil
            cursor = mosquitto_property_read_string_pair(
                cursor, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name,
                &value, true)
        }
        return result
    }

    /// Builds a property list for the duration of `body`.
    static func with<R>(
        _ properties: MQTTPublishProperties,
        maximumPacketSize: Int? = nil,
        _ body: (OpaquePointer?) -> R
    ) throws(MQTTError) -> R {
        var list: OpaquePointer?
        defer { mosquitto_property_free_all(&list) }
        if let expiry = properties.messageExpiry {
            try mosquittoCall(
                "mosquitto_property_add_int32",
                mosquitto_property_add_int32(
                    &list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue),
                    expiry))
        }
        if let maximumPacketSize {
            try mosquittoCall(
                "mosquitto_property_add_int32",
                mosquitto_property_add_int32(
                    &list, Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue),
                    UInt32(clamping: maximumPacketSize)))
        }
        for property in properties.userProperties {
            try mosquittoCall(
                "mosquitto_property_add_string_pair",
                mosquitto_property_add_string_pair(
                    &list, Int32(MQTT_PROP_USER_PROPERTY.rawValue),
                    property.name, property.value))
        }
        return body(list)
    }
}
