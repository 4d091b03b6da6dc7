package dev.sdcfg.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The weights of one model component (one or several safetensors shards), addressed by checkpoint key.
 *
 * <p>Lookups try the key as asked, then each alias from {@link #withAliases}: this is how prefixes of older
 * checkpoints ({@code text_model.}) and legacy names (VAE {@code query}/{@code key}/{@code value}) resolve without
 * the model code knowing about them. Every failure names the file and the key.
 *
 * <p>The loading policy, the same for every model (modules read their tensors through
 * {@link dev.sdcfg.model.nn.ParamLoader}): a tensor the model asks for must exist with the expected shape
 * ({@link #get}), and once the model is built every stored tensor must have been loaded or be on the model's
 * documented ignore list ({@link #ignore}, {@link #requireAllUsed}), as nanoGPT's {@code from_pretrained} asserts
 * every key and shape. Either failure is a {@link ModelLoadException} naming the file and the key.
 */
public final class Weights implements AutoCloseable {

    private final String description;
    private final Map<String, Safetensors> fileOfKey;
    private final List<Safetensors> files;
    private final Function<String, List<String>> aliases;
    /**
     * Stored keys loaded through {@link #get} or named by {@link #ignore}, shared by every alias view of the same
     * files.
     */
    private final Set<String> used;
    /** Random weights for benchmarks (see {@link #synthetic}). */
    private final boolean synthetic;
    /**
     * For a {@linkplain #renamed renamed view}: the key as stored in the file for each key this view answers to
     * (diffusers name → single-file name); empty when keys are stored under their own names.
     */
    private final Map<String, String> storedKeyOf;
    /** False for a renamed view: the single-file checkpoint that opened the file closes it. */
    private final boolean ownsFiles;
    /** Updates added while loading (LoRA), by key as answered by this view; see {@link #withPatches}. */
    private final Map<String, Patch> patches;
    /** Patched keys {@link #get} has loaded, shared by every view of the same files. */
    private final Set<String> patched;
    /**
     * For a {@linkplain #renamed renamed view}: keys whose tensor is part of a stored one (a fused q/k/v) or its
     * transpose, by key as this view answers to it; see {@link Safetensors.Cut}.
     */
    private final Map<String, Safetensors.Cut> cuts;

    /**
     * An update applied to a tensor while it loads: gets the stored tensor widened to float32 (float64 when the
     * model computes in float64), in the shape the model expects, and returns base + update in the same dtype. It
     * never sees, and so never changes, anything but its own copy: the file stays the pristine source.
     */
    public interface Patch {
        NDArray apply(NDArray base, NDManager manager);
    }

    private Weights(String description, List<Safetensors> files, Function<String, List<String>> aliases) {
        this(description, files, aliases, java.util.concurrent.ConcurrentHashMap.newKeySet());
    }

    private Weights(String description, List<Safetensors> files, Function<String, List<String>> aliases,
                    Set<String> used) {
        this(description, files, aliases, used, Map.of(), true);
    }

    private Weights(String description, List<Safetensors> files, Function<String, List<String>> aliases,
                    Set<String> used, Map<String, String> storedKeyOf, boolean ownsFiles) {
        this(description, files, aliases, used, storedKeyOf, ownsFiles, Map.of(),
                java.util.concurrent.ConcurrentHashMap.newKeySet(), Map.of());
    }

    private Weights(String description, List<Safetensors> files, Function<String, List<String>> aliases,
                    Set<String> used, Map<String, String> storedKeyOf, boolean ownsFiles, Map<String, Patch> patches,
                    Set<String> patched, Map<String, Safetensors.Cut> cuts) {
        this.cuts = cuts;
        this.patches = patches;
        this.patched = patched;
        this.description = description;
        this.files = files;
        this.aliases = aliases;
        this.used = used;
        this.synthetic = description.startsWith("synthetic:") && files.isEmpty();
        this.storedKeyOf = storedKeyOf;
        this.ownsFiles = ownsFiles;
        this.fileOfKey = new LinkedHashMap<>();
        if (storedKeyOf.isEmpty()) {
            for (Safetensors f : files) {
                for (String k : f.keys()) {
                    fileOfKey.putIfAbsent(k, f);
                }
            }
        } else {
            for (String k : storedKeyOf.keySet()) {
                fileOfKey.put(k, files.get(0));
            }
        }
    }

    /**
     * A view of part of one file under other names: {@code storedKeyOf} maps each key the model asks for to the
     * key stored in {@code file} (a single-file checkpoint's component in diffusers names). Only those keys exist
     * in the view, so {@link #requireAllUsed} checks that component alone; messages name the stored key. The view
     * does not close {@code file}.
     */
    public static Weights renamed(Safetensors file, Map<String, String> storedKeyOf) {
        return renamed(file, storedKeyOf, Map.of());
    }

    /**
     * {@link #renamed(Safetensors, Map)} where the keys of {@code cuts} answer with a part of their stored tensor
     * (OpenCLIP's fused {@code in_proj_weight} as q, k and v; its {@code text_projection} transposed). Several keys
     * may name the same stored tensor.
     */
    public static Weights renamed(Safetensors file, Map<String, String> storedKeyOf,
                                  Map<String, Safetensors.Cut> cuts) {
        if (storedKeyOf.isEmpty()) {
            throw new IllegalArgumentException(file.path() + ": a renamed view needs at least one key");
        }
        return new Weights(file.path().toString(), List.of(file), k -> List.of(),
                java.util.concurrent.ConcurrentHashMap.newKeySet(),
                java.util.Collections.unmodifiableMap(new LinkedHashMap<>(storedKeyOf)), false, Map.of(),
                java.util.concurrent.ConcurrentHashMap.newKeySet(), Map.copyOf(cuts));
    }

    /** The key as stored in the file (differs from {@code key} in a {@linkplain #renamed renamed view}). */
    public String storedKey(String key) {
        return storedKeyOf.getOrDefault(key, key);
    }

    /** A key for messages: the stored key, and the model's name for it when they differ. */
    private String named(String key) {
        String s = storedKey(key);
        return s.equals(key) ? s : s + "' (as '" + key;
    }

    /**
     * Random weights for benchmarks: every {@link #get} returns a fresh tensor of the expected shape drawn from
     * the engine's generator (1-D tensors — norms and biases — near 1, matrices N(0, 0.02²)) and {@link #has}
     * answers false, so optional tensors (biases, shortcut convs) are left out as a config implies.
     */
    public static Weights synthetic(String description) {
        return new Weights("synthetic:" + description, List.of(), k -> List.of());
    }

    public static Weights of(Safetensors... files) {
        return new Weights(describe(Arrays.stream(files).map(Safetensors::path).toList()), List.of(files),
                k -> List.of());
    }

    /** The file itself, or the list of shards. */
    private static String describe(List<Path> files) {
        return files.size() == 1 ? files.get(0).toString() : files.toString();
    }

    /**
     * Opens the weights of a component folder. {@code variant} "fp16" prefers {@code *.fp16.safetensors};
     * otherwise the plain name is preferred and a variant file is used when it is the only one.
     */
    public static Weights openComponent(Path dir, String variant) {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("missing model component folder " + dir);
        }
        List<Path> chosen = chooseFiles(dir, variant);
        List<Safetensors> opened = new ArrayList<>();
        try {
            for (Path p : chosen) {
                opened.add(Safetensors.open(p));
            }
        } catch (IOException e) {
            for (Safetensors s : opened) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing after a failed open
                }
            }
            throw new ModelLoadException("cannot read weights in " + dir + ": " + e.getMessage(), e);
        }
        return new Weights(describe(chosen), opened, k -> List.of());
    }

    static List<Path> chooseFiles(Path dir, String variant) {
        List<Path> safetensors = new ArrayList<>();
        List<Path> indexes = new ArrayList<>();
        List<Path> pickles = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.endsWith(".safetensors")) {
                    safetensors.add(p);
                } else if (n.endsWith(".safetensors.index.json")) {
                    indexes.add(p);
                } else if (n.endsWith(".bin") || n.endsWith(".ckpt") || n.endsWith(".pt") || n.endsWith(".pth")) {
                    pickles.add(p);
                }
            }
        } catch (IOException e) {
            throw new ModelLoadException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        String want = variant == null || variant.isBlank() ? null : variant;
        // Sharded checkpoints: an index names the shards.
        for (Path idx : preferVariant(indexes, want, ".safetensors.index.json")) {
            return shardsOf(idx);
        }
        List<Path> ordered = preferVariant(safetensors, want, ".safetensors");
        if (!ordered.isEmpty()) {
            return List.of(ordered.get(0));
        }
        if (!pickles.isEmpty()) {
            throw new ModelLoadException(dir + " holds only pickle weights (" + pickles.get(0).getFileName()
                    + "): pickles can execute code when loaded and are not supported; convert them to safetensors"
                    + " (e.g. diffusers' save_pretrained(safe_serialization=True))");
        }
        throw new ModelLoadException("no *.safetensors weights in " + dir);
    }

    /** Plain files first unless a variant is wanted, then that variant; sorted for determinism. */
    private static List<Path> preferVariant(List<Path> files, String variant, String suffix) {
        List<Path> plain = new ArrayList<>();
        List<Path> wanted = new ArrayList<>();
        List<Path> other = new ArrayList<>();
        for (Path p : files) {
            String n = p.getFileName().toString();
            String stem = n.substring(0, n.length() - suffix.length());
            int dot = stem.lastIndexOf('.');
            String v = dot < 0 ? null : stem.substring(dot + 1);
            if (v == null) {
                plain.add(p);
            } else if (v.equals(variant)) {
                wanted.add(p);
            } else {
                other.add(p);
            }
        }
        plain.sort(null);
        wanted.sort(null);
        other.sort(null);
        List<Path> out = new ArrayList<>();
        if (variant != null) {
            out.addAll(wanted);
        }
        // prefer the canonical diffusers/transformers names among plain files
        plain.sort((a, b) -> Boolean.compare(!isCanonical(a), !isCanonical(b)));
        out.addAll(plain);
        if (variant == null) {
            out.addAll(wanted);
        }
        out.addAll(other);
        return out;
    }

    private static boolean isCanonical(Path p) {
        String n = p.getFileName().toString();
        return n.startsWith("diffusion_pytorch_model.") || n.startsWith("model.");
    }

    private static List<Path> shardsOf(Path index) {
        try {
            JsonObject o = JsonParser.parseString(Files.readString(index, StandardCharsets.UTF_8)).getAsJsonObject();
            Set<String> names = new LinkedHashSet<>();
            for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("weight_map").entrySet()) {
                names.add(e.getValue().getAsString());
            }
            List<Path> out = new ArrayList<>();
            for (String n : names) {
                Path p = index.resolveSibling(n);
                if (!Files.isRegularFile(p)) {
                    throw new ModelLoadException(index + " names shard " + n + ", which does not exist");
                }
                out.add(p);
            }
            return out;
        } catch (IOException | RuntimeException e) {
            if (e instanceof ModelLoadException) {
                throw (ModelLoadException) e;
            }
            throw new ModelLoadException("cannot read shard index " + index + ": " + e.getMessage(), e);
        }
    }

    /** A view of the same files with extra key aliases (tried in order after the key itself). */
    public Weights withAliases(Function<String, List<String>> more) {
        Function<String, List<String>> prev = this.aliases;
        return new Weights(description, files, k -> {
            List<String> out = new ArrayList<>(prev.apply(k));
            out.addAll(more.apply(k));
            return out;
        }, used, storedKeyOf, ownsFiles, patches, patched, cuts);
    }

    public Set<String> keys() {
        return fileOfKey.keySet();
    }

    /**
     * A view of the same files whose tensors named in {@code patches} (keys as {@link #keys} lists them) load with
     * their update applied. The view neither owns nor closes the files: close this one, not the view.
     */
    public Weights withPatches(Map<String, Patch> more) {
        for (String k : more.keySet()) {
            if (!fileOfKey.containsKey(k)) {
                throw new IllegalArgumentException(description + ": no tensor '" + k + "' to patch");
            }
        }
        return new Weights(description, files, aliases, used, storedKeyOf, false, Map.copyOf(more), patched, cuts);
    }

    /** Patched keys the model has not loaded (after building it: none, or the update would be lost). */
    public Set<String> unappliedPatches() {
        Set<String> out = new java.util.TreeSet<>(patches.keySet());
        out.removeAll(patched);
        return out;
    }

    /** The stored key that answers {@code key}, or null. */
    public String resolve(String key) {
        if (fileOfKey.containsKey(key)) {
            return key;
        }
        for (String a : aliases.apply(key)) {
            if (fileOfKey.containsKey(a)) {
                return a;
            }
        }
        return null;
    }

    /**
     * Stored keys that no {@link #get} (through this or any alias view) has loaded and no {@link #ignore} has
     * named yet, in file order: after a model is built, these reveal a config that does not match its checkpoint.
     */
    public List<String> unusedKeys() {
        List<String> out = new ArrayList<>();
        for (String k : fileOfKey.keySet()) {
            if (!used.contains(k)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * Marks {@code key} (resolved through the aliases, like a lookup) as known and deliberately not loaded: an
     * entry of a model's documented ignore list. A key the checkpoint does not hold is fine.
     */
    public void ignore(String key) {
        String k = resolve(key);
        if (k != null) {
            used.add(k);
        }
    }

    /**
     * The second half of the loading policy (the first: {@link #get} fails on a missing or mis-shaped tensor):
     * every stored tensor must have been loaded or {@linkplain #ignore ignored}. A tensor left over means the config
     * does not describe this checkpoint, so the model would not compute what the checkpoint was trained for.
     *
     * @param hint what to check, ending the message (e.g. the config keys that decide the module layout)
     * @throws ModelLoadException naming the file and the first unused key, and how many more there are
     */
    public void requireAllUsed(String hint) {
        List<String> unused = unusedKeys();
        if (unused.isEmpty()) {
            return;
        }
        String first = unused.get(0);
        StringBuilder more = new StringBuilder();
        if (unused.size() > 1) {
            more.append(" (and ").append(unused.size() - 1).append(" more: ");
            for (int i = 1; i < Math.min(unused.size(), 4); i++) {
                more.append(i > 1 ? ", '" : "'").append(unused.get(i)).append('\'');
            }
            more.append(unused.size() > 4 ? ", …)" : ")");
        }
        throw new ModelLoadException(fileOfKey.get(first).path() + ": tensor '" + named(first) + "' is not used by"
                + " the model" + more + "; " + hint);
    }

    public boolean has(String key) {
        return resolve(key) != null;
    }

    public long[] shapeOf(String key) {
        String k = require(key);
        return storedShape(k);
    }

    /** The shape of view key {@code k} as stored (after its {@linkplain Safetensors.Cut cut}, if any). */
    private long[] storedShape(String k) {
        long[] s = fileOfKey.get(k).info(storedKey(k)).shape();
        Safetensors.Cut cut = cuts.get(k);
        return cut == null ? s : cut.shapeOf(s);
    }

    private String require(String key) {
        String k = resolve(key);
        if (k == null) {
            List<String> tried = new ArrayList<>();
            tried.add(key);
            tried.addAll(aliases.apply(key));
            throw new ModelLoadException(description + ": missing tensor '" + key + "'"
                    + (tried.size() > 1 ? " (also tried " + tried.subList(1, tried.size()) + ")" : ""));
        }
        return k;
    }

    /**
     * Loads {@code key} as {@code dtype} into {@code manager} and checks its shape. A stored shape that differs
     * from {@code expected} only by trailing singleton dimensions (1x1 conv weights standing for linear ones) is
     * reshaped; any other mismatch fails naming file, key and both shapes.
     */
    public NDArray get(String key, NDManager manager, DataType dtype, long... expected) {
        if (synthetic) {
            if (expected == null || expected.length == 0) {
                throw new ModelLoadException(description + ": synthetic weights need an expected shape for '" + key + "'");
            }
            Shape shape = new Shape(expected);
            return expected.length == 1
                    ? manager.randomNormal(1f, 0.02f, shape, dtype)
                    : manager.randomNormal(0f, 0.02f, shape, dtype);
        }
        String k = require(key);
        Safetensors f = fileOfKey.get(k);
        long[] stored = storedShape(k);
        String storedType = f.info(storedKey(k)).dtype();
        if (dtype != null && dtype.isFloating() && !FLOATING.contains(storedType)) {
            // an integer or boolean tensor where the model needs weights: a corrupt or foreign checkpoint
            throw new ModelLoadException(f.path() + ": tensor '" + named(k) + "' has dtype " + storedType
                    + ", expected a floating-point weight (F16, BF16, F32 or F64)");
        }
        used.add(k);
        boolean reshape = false;
        if (expected != null && expected.length > 0 && !Arrays.equals(stored, expected)) {
            if (stripTrailingOnes(stored).equals(stripTrailingOnes(expected))
                    && product(stored) == product(expected)) {
                reshape = true;
            } else {
                throw new ModelLoadException(f.path() + ": tensor '" + named(k) + "' has shape " + Arrays.toString(stored)
                        + ", expected " + Arrays.toString(expected));
            }
        }
        try {
            Patch patch = patches.get(k);
            DataType loadAs = patch == null ? dtype : dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
            NDArray a = f.load(storedKey(k), manager, loadAs, cuts.get(k));
            if (reshape) {
                NDArray r = a.reshape(expected);
                a.close();
                a = r;
            }
            if (patch != null) {
                NDArray merged = patch.apply(a, manager);
                a.close();
                a = merged.getDataType() == dtype ? merged : merged.toType(dtype, false);
                if (a != merged) {
                    merged.close();
                }
                patched.add(k);
            }
            return a;
        } catch (IOException e) {
            throw new ModelLoadException(f.path() + ": cannot load tensor '" + named(k) + "': " + e.getMessage(), e);
        }
    }

    private static final Set<String> FLOATING = Set.of("F16", "BF16", "F32", "F64");

    private static List<Long> stripTrailingOnes(long[] s) {
        int n = s.length;
        while (n > 0 && s[n - 1] == 1) {
            n--;
        }
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(s[i]);
        }
        return out;
    }

    private static long product(long[] s) {
        long p = 1;
        for (long d : s) {
            p *= d;
        }
        return p;
    }

    @Override
    public void close() {
        if (!ownsFiles) {
            return;
        }
        for (Safetensors s : files) {
            try {
                s.close();
            } catch (IOException ignored) {
                // read-only mapping; nothing to flush
            }
        }
    }

    @Override
    public String toString() {
        return "Weights[" + description + "]";
    }
}
