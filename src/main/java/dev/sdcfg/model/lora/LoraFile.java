package dev.sdcfg.model.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.ldm.LdmKeys;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One LoRA file, resolved against a model's tensors. Formats:
 * <ul>
 * <li>kohya / A1111 ({@code lora_unet_<module>.lora_down.weight}, {@code .lora_up.weight}, {@code .alpha};
 * {@code lora_te_} / {@code lora_te1_} for the text encoder, {@code lora_te2_} for SDXL's text_encoder_2):
 * {@code <module>} is the module path with {@code .} written as {@code _}, resolved by looking the name up among the
 * model's own modules (as A1111 does), so no guessing at underscores. UNet modules may be named as diffusers names
 * them ({@code down_blocks_1_attentions_0_…}) or as the original sgm UNet does ({@code input_blocks_4_1_…}, what
 * kohya's sd-scripts write for SDXL; diffusers maps them with {@code _maybe_map_sgm_blocks_to_diffusers}); linear
 * and conv (1×1 and k×k down with 1×1 up) LoRAs;</li>
 * <li>PEFT / diffusers ({@code unet.<module>.lora_A.weight} / {@code lora_B.weight}, {@code text_encoder.<module>…},
 * {@code text_encoder_2.<module>…},
 * optional {@code <component>.<module>.alpha}), the older {@code <module>.lora.down.weight} / {@code lora.up.weight},
 * and the attention-processor form ({@code …attn1.processor.to_q_lora.down.weight}).</li>
 * </ul>
 * The update of module W is {@code weight × scale × up @ down} with scale = alpha / rank (kohya, diffusers'
 * network_alphas) or 1 without alpha (PEFT's default lora_alpha = r). Any key no rule covers, and any module the
 * model does not have (a LoRA for another architecture), fails naming file and key; so does a rank or shape that
 * does not fit. DoRA ({@code dora_scale}) is refused.
 */
public final class LoraFile implements AutoCloseable {

    /** One low-rank update: the model tensor (key as the component's Weights lists it) and the file's tensors. */
    public record Update(String component, String target, String down, String up, double alpha, long rank) {
        /** alpha / rank (kohya, diffusers) or 1 when the file gives no alpha (alpha is then the rank). */
        public double scale() {
            return alpha / rank;
        }
    }

    public static final String UNET = "unet";
    public static final String TEXT_ENCODER = "text_encoder";
    /** SDXL's second text encoder (kohya {@code lora_te2_}, diffusers {@code text_encoder_2.}). */
    public static final String TEXT_ENCODER_2 = "text_encoder_2";

    private final Path path;
    private final Safetensors file;
    private final List<Update> updates;

    private LoraFile(Path path, Safetensors file, List<Update> updates) {
        this.path = path;
        this.file = file;
        this.updates = updates;
    }

    public List<Update> updates() {
        return updates;
    }

    public Path path() {
        return path;
    }

    /**
     * Opens {@code path} and resolves it against the component tensors ({@code keys}: "unet" and "text_encoder" →
     * their Weights keys, each with its shape from {@code shapes}).
     */
    public static LoraFile open(Path path, Map<String, Map<String, long[]>> shapes) {
        Safetensors f;
        try {
            f = Safetensors.open(path);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read LoRA " + path + ": " + e.getMessage(), e);
        }
        try {
            return new LoraFile(path, f, resolve(path, f, shapes));
        } catch (RuntimeException e) {
            f.closeQuietly();
            throw e;
        }
    }

    private static final Pattern KOHYA = Pattern.compile("^(lora_unet_|lora_te[12]?_)([A-Za-z0-9_]+)\\.(lora_down\\.weight|lora_up\\.weight|alpha)$");
    private static final Pattern PEFT = Pattern.compile("^(unet|text_encoder|text_encoder_2)\\.(.+?)\\.(lora_A\\.weight|lora_B\\.weight|lora\\.down\\.weight|lora\\.up\\.weight|alpha)$");
    private static final Pattern PROCESSOR = Pattern.compile("^(.+)\\.processor\\.(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight$");

    /** A module found in the file: where its down, up and alpha tensors are. */
    private static final class Found {
        String component;
        String module;
        String down;
        String up;
        String alpha;
    }

    static List<Update> resolve(Path path, Safetensors f, Map<String, Map<String, long[]>> shapes) {
        Map<String, Map<String, String>> kohyaNames = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, long[]>> c : shapes.entrySet()) {
            Map<String, String> names = new LinkedHashMap<>();
            for (String k : c.getValue().keySet()) {
                if (k.endsWith(".weight")) {
                    String module = k.substring(0, k.length() - ".weight".length());
                    names.put(module.replace('.', '_'), module);
                    if (!module.startsWith("text_model.") && !UNET.equals(c.getKey())) {
                        names.put(("text_model." + module).replace('.', '_'), module); // checkpoints without the prefix
                    }
                }
            }
            if (UNET.equals(c.getKey())) { // the sgm names kohya gives SDXL's UNet modules
                for (Map.Entry<String, String> e : LdmKeys.unetToLdm(c.getValue().keySet()).entrySet()) {
                    String k = e.getKey();
                    String sgm = e.getValue();
                    if (k.endsWith(".weight") && sgm.endsWith(".weight")) {
                        names.putIfAbsent(sgm.substring(0, sgm.length() - ".weight".length()).replace('.', '_'),
                                k.substring(0, k.length() - ".weight".length()));
                    }
                }
            }
            kohyaNames.put(c.getKey(), names);
        }
        Map<String, Found> found = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (String key : f.keys()) {
            Matcher k = KOHYA.matcher(key);
            Matcher p = PEFT.matcher(key);
            String component;
            String module;
            String part;
            if (k.matches()) {
                component = k.group(1).equals("lora_unet_") ? UNET
                        : k.group(1).equals("lora_te2_") ? TEXT_ENCODER_2 : TEXT_ENCODER;
                module = kohyaNames.getOrDefault(component, Map.of()).get(k.group(2));
                if (module == null) {
                    throw new ModelLoadException(path + ": tensor '" + key + "' names a module the " + component
                            + " does not have ('" + k.group(2) + "'): a LoRA for another architecture?");
                }
                part = k.group(3).startsWith("lora_down") ? "down" : k.group(3).startsWith("lora_up") ? "up" : "alpha";
            } else if (p.matches()) {
                component = p.group(1);
                module = p.group(2);
                Matcher proc = PROCESSOR.matcher(module + "." + p.group(3));
                String tail = p.group(3);
                part = tail.equals("alpha") ? "alpha" : tail.startsWith("lora_A") || tail.endsWith("down.weight")
                        ? "down" : "up";
                if (proc.matches()) {
                    module = proc.group(1) + "." + (proc.group(2).equals("to_out") ? "to_out.0" : proc.group(2));
                }
            } else {
                Matcher proc = PROCESSOR.matcher(key.startsWith("unet.") ? key.substring(5) : key);
                if (proc.matches()) {
                    component = UNET;
                    module = proc.group(1) + "." + (proc.group(2).equals("to_out") ? "to_out.0" : proc.group(2));
                    part = proc.group(3);
                } else {
                    unknown.add(key);
                    continue;
                }
            }
            if (!shapes.containsKey(component)) {
                throw new ModelLoadException(path + ": tensor '" + key + "' is for the " + component
                        + ", which this model cannot take LoRAs for");
            }
            Found x = found.computeIfAbsent(component + "/" + module, n -> new Found());
            x.component = component;
            x.module = module;
            switch (part) {
                case "down" -> x.down = key;
                case "up" -> x.up = key;
                default -> x.alpha = key;
            }
        }
        if (!unknown.isEmpty()) {
            throw new ModelLoadException(path + ": " + unknown.size() + " tensor(s) are not LoRA weights this service"
                    + " reads (kohya lora_unet_/lora_te_/lora_te1_/lora_te2_ .lora_down/.lora_up/.alpha, PEFT"
                    + " lora_A/lora_B, diffusers"
                    + " lora.down/lora.up): " + unknown.subList(0, Math.min(8, unknown.size()))
                    + (unknown.size() > 8 ? " …" : ""));
        }
        List<Update> out = new ArrayList<>();
        for (Found x : found.values()) {
            String target = x.module + ".weight";
            Map<String, long[]> comp = shapes.get(x.component);
            if (!comp.containsKey(target) && target.startsWith("text_model.")
                    && comp.containsKey(target.substring("text_model.".length()))) {
                target = target.substring("text_model.".length()); // a text encoder saved without the prefix
            }
            long[] w = comp.get(target);
            if (w == null) {
                throw new ModelLoadException(path + ": '" + (x.down != null ? x.down : x.up) + "' names "
                        + x.component + " tensor '" + target + "', which the model does not have (a LoRA for"
                        + " another architecture?)");
            }
            if (x.down == null || x.up == null) {
                throw new ModelLoadException(path + ": module '" + x.module + "' has " + (x.down == null ? "no down"
                        : "no up") + " weight (only " + (x.down == null ? x.up : x.down) + ")");
            }
            long[] d = f.info(x.down).shape();
            long[] u = f.info(x.up).shape();
            long rank = d[0];
            long in = 1;
            for (int i = 1; i < d.length; i++) {
                in *= d[i];
            }
            long fanIn = 1;
            for (int i = 1; i < w.length; i++) {
                fanIn *= w[i];
            }
            boolean upFits = u.length >= 2 && u[0] == w[0] && u[1] == rank
                    && Arrays.stream(u, 2, u.length).allMatch(v -> v == 1);
            if (!upFits || in != fanIn || d.length > 1 && w.length > 2 && d.length == 4 && (d[1] != w[1])) {
                throw new ModelLoadException(path + ": LoRA '" + x.down + "' " + Arrays.toString(d) + " / '" + x.up
                        + "' " + Arrays.toString(u) + " does not fit " + x.component + " tensor '" + target + "' "
                        + Arrays.toString(w));
            }
            double alpha = rank;
            if (x.alpha != null) {
                alpha = scalar(path, f, x.alpha);
            }
            out.add(new Update(x.component, target, x.down, x.up, alpha, rank));
        }
        if (out.isEmpty()) {
            throw new ModelLoadException(path + ": holds no LoRA weights");
        }
        return out;
    }

    private static double scalar(Path path, Safetensors f, String key) {
        Safetensors.TensorInfo info = f.info(key);
        if (info.numel() != 1) {
            throw new ModelLoadException(path + ": '" + key + "' must be a single number, has shape "
                    + Arrays.toString(info.shape()));
        }
        try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            NDArray a = f.load(key, m, DataType.FLOAT64);
            if (!a.getDataType().isFloating()) {
                a = a.toType(DataType.FLOAT64, false);
            }
            return a.toDoubleArray()[0];
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot read '" + key + "': " + e.getMessage(), e);
        }
    }

    /**
     * Adds {@code weight ×} this LoRA's updates of {@code component} to {@code into} (several LoRAs on one tensor
     * add up). The patch computes {@code base + Σ weight·scale·(up @ down)} in the base's (float32/float64) dtype.
     */
    public void addPatches(String component, double weight, Map<String, List<Weights.Patch>> into) {
        for (Update u : updates) {
            if (!u.component().equals(component)) {
                continue;
            }
            double s = weight * u.scale();
            into.computeIfAbsent(u.target(), k -> new ArrayList<>()).add((base, m) -> {
                try {
                    DataType dt = base.getDataType();
                    NDArray down = file.load(u.down(), m, dt);
                    NDArray up = file.load(u.up(), m, dt);
                    NDArray d2 = down.reshape(u.rank(), -1);
                    NDArray u2 = up.reshape(up.getShape().get(0), u.rank());
                    NDArray delta = u2.matMul(d2).reshape(base.getShape()).mul(s);
                    NDArray out = base.add(delta);
                    for (NDArray t : new NDArray[] {down, up, d2, u2, delta}) {
                        t.close();
                    }
                    return out;
                } catch (IOException e) {
                    throw new ModelLoadException(path + ": cannot load '" + u.down() + "': " + e.getMessage(), e);
                }
            });
        }
    }

    /** One {@link Weights.Patch} per tensor from the lists {@link #addPatches} filled. */
    public static Map<String, Weights.Patch> combine(Map<String, List<Weights.Patch>> lists) {
        Map<String, Weights.Patch> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Weights.Patch>> e : lists.entrySet()) {
            List<Weights.Patch> ps = List.copyOf(e.getValue());
            out.put(e.getKey(), (base, m) -> {
                NDArray cur = base;
                for (Weights.Patch p : ps) {
                    NDArray next = p.apply(cur, m);
                    if (cur != base) {
                        cur.close();
                    }
                    cur = next;
                }
                return cur;
            });
        }
        return out;
    }

    /** The components this file updates. */
    public Set<String> components() {
        Set<String> out = new TreeSet<>();
        for (Update u : updates) {
            out.add(u.component());
        }
        return out;
    }

    @Override
    public void close() {
        file.closeQuietly();
    }
}
