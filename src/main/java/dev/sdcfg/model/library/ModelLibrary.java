package dev.sdcfg.model.library;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.ldm.SingleFileCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The models folder ({@code sd.models.dir}): every diffusers folder (a sub-folder with {@code model_index.json}) and
 * every single-file {@code .safetensors} checkpoint in it, by name (folder name, file name without the suffix). The
 * folder is read again (at most every two seconds), so models added while the service runs appear without a restart.
 * Pickle files are not listed (they are never loaded; a warning says how to convert them).
 */
public final class ModelLibrary {

    private static final System.Logger LOG = System.getLogger(ModelLibrary.class.getName());

    public static final String DIFFUSERS = "diffusers";
    public static final String SINGLE_FILE = "single-file";

    /**
     * One model of the folder.
     *
     * @param name   what a request's {@code model} names it by
     * @param format {@link #DIFFUSERS} or {@link #SINGLE_FILE}
     * @param family "SD 1.x", "SD 2.x", "SDXL" or "unknown" (from the config or the tensor names; nothing is loaded)
     * @param path   the folder or file
     * @param sizeBytes bytes on disk
     */
    public record Entry(String name, String format, String family, Path path, long sizeBytes) {

        /** A1111's sha256 of the file (single files only; null for folders). Reads the file once (cached). */
        public String sha256() {
            return SINGLE_FILE.equals(format) ? ModelFolderScan.sha256(path) : null;
        }

        /** A1111's "shorthash": the first 10 hex digits of {@link #sha256}. */
        public String shortHash() {
            String s = sha256();
            return s == null ? null : s.substring(0, 10);
        }
    }

    private final Path dir;

    public ModelLibrary(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("models folder " + dir + " (sd.models.dir) does not exist or is not a folder");
        }
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** How long a listing is reused (submissions check names against it; files' headers are read per listing). */
    static final long LISTING_TTL_NANOS = 2_000_000_000L;
    private volatile List<Entry> listed;
    private volatile long listedAt;

    /** The models, sorted by name (read again when the last listing is older than two seconds). */
    public List<Entry> list() {
        List<Entry> l = listed;
        long now = System.nanoTime();
        if (l != null && now - listedAt < LISTING_TTL_NANOS) {
            return l;
        }
        l = ModelFolderScan.list(dir, ModelLibrary::candidate, "models").stream()
                .map(ModelLibrary::describe).flatMap(Optional::stream).toList();
        listed = l;
        listedAt = now;
        return l;
    }

    /** The model a request names, if listed. Names are matched exactly; no path is built from them. */
    public Optional<Entry> find(String name) {
        if (name == null) {
            return Optional.empty();
        }
        return list().stream().filter(e -> e.name().equals(name)).findFirst();
    }

    private static boolean candidate(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(p)) {
            return Files.isRegularFile(p.resolve("model_index.json"));
        }
        for (String s : SingleFileCheckpoint.PICKLE_SUFFIXES) {
            if (n.endsWith(s)) {
                try {
                    SingleFileCheckpoint.refusePickle(p);
                } catch (ModelLoadException e) {
                    LOG.log(System.Logger.Level.WARNING, "not listed: " + e.getMessage());
                }
                return false;
            }
        }
        return n.endsWith(".safetensors") && Files.isRegularFile(p);
    }

    private static Optional<Entry> describe(ModelFolderScan.Entry e) {
        long size = ModelFolderScan.sizeOnDisk(e.realPath());
        if (e.directory()) {
            return Optional.of(new Entry(e.name(), DIFFUSERS, folderFamily(e.path()), e.path(), size));
        }
        try (Safetensors f = Safetensors.open(e.path())) {
            String family;
            try {
                family = SingleFileCheckpoint.familyOf(e.path(), f.keys()).label;
            } catch (ModelLoadException notACheckpoint) {
                LOG.log(System.Logger.Level.WARNING, "not listed: " + notACheckpoint.getMessage());
                return Optional.empty();
            }
            return Optional.of(new Entry(e.name(), SINGLE_FILE, family, e.path(), size));
        } catch (IOException bad) {
            LOG.log(System.Logger.Level.WARNING, "not listed: " + e.path() + ": " + bad.getMessage());
            return Optional.empty();
        }
    }

    /** From model_index.json and the UNet's cross_attention_dim (768 SD 1.x, 1024 SD 2.x). */
    private static String folderFamily(Path folder) {
        try {
            JsonConfig index = JsonConfig.read(folder.resolve("model_index.json"));
            String cls = index.getString("_class_name", "");
            if (cls.contains("XL")) {
                return "SDXL";
            }
            Path unet = folder.resolve("unet/config.json");
            if (Files.isRegularFile(unet)) {
                int cross = JsonConfig.read(unet).getInt("cross_attention_dim", 1280);
                return cross == 1024 ? "SD 2.x" : cross == 768 ? "SD 1.x" : "unknown";
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, folder + ": cannot tell the family: " + e.getMessage());
        }
        return "unknown";
    }
}
