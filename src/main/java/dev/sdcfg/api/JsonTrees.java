package dev.sdcfg.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Iterator;
import java.util.Map;

/**
 * Tree-to-tree conversion between the HTTP layer's JSON (Jackson) and the engine's (Gson), for the free-form parts of
 * a request (the guidance spec, sampler options): no text in between. Numbers keep their kind and value (an integer
 * stays an integer of the same magnitude, a double the same double), so the engine reads what the client sent.
 */
final class JsonTrees {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private JsonTrees() {
    }

    /** The Gson tree of a Jackson tree (null, missing: JSON null). */
    static JsonElement toGson(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return JsonNull.INSTANCE;
        }
        if (node.isObject()) {
            JsonObject o = new JsonObject();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                o.add(e.getKey(), toGson(e.getValue()));
            }
            return o;
        }
        if (node.isArray()) {
            JsonArray a = new JsonArray(node.size());
            for (JsonNode x : node) {
                a.add(toGson(x));
            }
            return a;
        }
        if (node.isNumber()) {
            return new JsonPrimitive(node.numberValue());
        }
        if (node.isBoolean()) {
            return new JsonPrimitive(node.booleanValue());
        }
        if (node.isTextual()) {
            return new JsonPrimitive(node.textValue());
        }
        throw new IllegalArgumentException("not a JSON value: " + node.getNodeType());
    }

    /** The Jackson tree of a Gson tree (null: JSON null). */
    static JsonNode toJackson(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return NODES.nullNode();
        }
        if (e.isJsonObject()) {
            ObjectNode o = NODES.objectNode();
            for (Map.Entry<String, JsonElement> x : e.getAsJsonObject().entrySet()) {
                o.set(x.getKey(), toJackson(x.getValue()));
            }
            return o;
        }
        if (e.isJsonArray()) {
            ArrayNode a = NODES.arrayNode();
            for (JsonElement x : e.getAsJsonArray()) {
                a.add(toJackson(x));
            }
            return a;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return NODES.booleanNode(p.getAsBoolean());
        }
        if (p.isString()) {
            return NODES.textNode(p.getAsString());
        }
        return number(p.getAsNumber());
    }

    private static JsonNode number(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
            return NODES.numberNode(n.longValue());
        }
        if (n instanceof Double || n instanceof Float) {
            return NODES.numberNode(n.doubleValue());
        }
        if (n instanceof BigInteger b) {
            return NODES.numberNode(b);
        }
        if (n instanceof BigDecimal d) {
            return NODES.numberNode(d);
        }
        // a number Gson read from text (LazilyParsedNumber): its text decides integer or double, as Jackson's parser
        String text = n.toString();
        if (text.matches("-?[0-9]+")) {
            return NODES.numberNode(new BigInteger(text));
        }
        return NODES.numberNode(Double.parseDouble(text));
    }
}
