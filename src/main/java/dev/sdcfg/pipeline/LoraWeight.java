package dev.sdcfg.pipeline;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A LoRA of {@code sd.loras.dir} and the weight it is merged with (A1111's {@code <lora:name:weight>}).
 *
 * @param name   the file name without {@code .safetensors}
 * @param weight multiplier of the LoRA's update (1 = as trained)
 */
public record LoraWeight(String name, double weight) {

    /**
     * The set a model is built with: one entry per name (weights of a name given twice add up, as A1111's do),
     * sorted by name, zero weights dropped; two requests with the same set share the built model.
     */
    public static List<LoraWeight> canonical(List<LoraWeight> list) {
        Map<String, Double> sum = new TreeMap<>();
        for (LoraWeight l : list) {
            sum.merge(l.name(), l.weight(), Double::sum);
        }
        return sum.entrySet().stream().filter(e -> e.getValue() != 0.0)
                .map(e -> new LoraWeight(e.getKey(), e.getValue())).toList();
    }

    /** For logs and the resident key: {@code name:weight,…}. */
    public static String describe(List<LoraWeight> list) {
        return list.stream().map(l -> l.name() + ":" + l.weight()).collect(Collectors.joining(","));
    }
}
