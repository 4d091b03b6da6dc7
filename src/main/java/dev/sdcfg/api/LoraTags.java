package dev.sdcfg.api;

import dev.sdcfg.pipeline.LoraWeight;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's extra-network tags for LoRAs in a prompt: {@code <lora:NAME>} or {@code <lora:NAME:WEIGHT>} (weight 1 when
 * absent). They are taken out of the text (CLIP never sees them) and become entries of the request's LoRA list,
 * as A1111's {@code extra_networks.parse_prompt} does. Other {@code <...>} text is left alone.
 */
final class LoraTags {

    private static final Pattern TAG = Pattern.compile("<lora:([^:>]+)(?::([^:>]*))?>");

    /** The prompt without its LoRA tags, and the tags. */
    record Parsed(String prompt, List<LoraWeight> loras, List<String> badWeights) {
    }

    private LoraTags() {
    }

    static Parsed parse(String prompt) {
        if (prompt == null || !prompt.contains("<lora:")) {
            return new Parsed(prompt, List.of(), List.of());
        }
        List<LoraWeight> out = new ArrayList<>();
        List<String> bad = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        StringBuilder text = new StringBuilder();
        while (m.find()) {
            String w = m.group(2);
            double weight = 1.0;
            if (w != null && !w.isBlank()) {
                try {
                    weight = Double.parseDouble(w.trim());
                } catch (NumberFormatException e) {
                    bad.add(m.group());
                }
            }
            out.add(new LoraWeight(m.group(1).trim(), weight));
            m.appendReplacement(text, "");
        }
        m.appendTail(text);
        return new Parsed(text.toString(), out, bad);
    }
}
