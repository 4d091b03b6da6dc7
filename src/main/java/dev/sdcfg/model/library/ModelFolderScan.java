package dev.sdcfg.model.library;

import dev.sdcfg.model.ModelLoadException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The rules every user-filled folder ({@code sd.models.dir}, {@code sd.loras.dir}, {@code sd.embeddings.dir}) is read
 * by: an entry's name is its file name (without {@code .safetensors}) and must match {@link #NAME}; an entry whose real
 * path (symlinks followed) leaves the folder is skipped with a warning; names from requests are looked up in the
 * listing only, never joined to a path, so {@code ../} cannot reach outside.
 */
public final class ModelFolderScan {

    private static final System.Logger LOG = System.getLogger(ModelFolderScan.class.getName());

    /** Names a request may use: letters, digits, {@code . _ - +} and spaces, not starting with a dot. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9_+\\- ][A-Za-z0-9._+\\- ]{0,127}");

    /** One entry: its name, the path inside the folder and its real path. */
    public record Entry(String name, Path path, Path realPath, boolean directory) {
    }

    private ModelFolderScan() {
    }

    /**
     * The entries of {@code dir} (sorted by name) that {@code accept} takes. Entries with names outside {@link #NAME}
     * or real paths outside {@code dir} are skipped with a warning.
     */
    public static List<Entry> list(Path dir, java.util.function.Predicate<Path> accept, String what) {
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            throw new ModelLoadException(what + " folder " + dir + " cannot be read: " + e.getMessage(), e);
        }
        List<Entry> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (!accept.test(p)) {
                    continue;
                }
                String name = nameOf(p);
                if (!NAME.matcher(name).matches()) {
                    LOG.log(System.Logger.Level.WARNING, "{0}: skipped, the name ''{1}'' is not a valid {2} name"
                            + " (letters, digits, . _ - + and spaces)", p, name, what);
                    continue;
                }
                Path r;
                try {
                    r = p.toRealPath();
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "{0}: skipped, it cannot be resolved ({1})", p, e.getMessage());
                    continue;
                }
                if (!r.startsWith(real)) {
                    LOG.log(System.Logger.Level.WARNING, "{0}: skipped, it is a link to {1}, outside the {2} folder {3}",
                            p, r, what, real);
                    continue;
                }
                out.add(new Entry(name, p, r, Files.isDirectory(r)));
            }
        } catch (IOException e) {
            throw new ModelLoadException(what + " folder " + dir + " cannot be listed: " + e.getMessage(), e);
        }
        out.sort(java.util.Comparator.comparing(Entry::name));
        return out;
    }

    /** The name an entry is listed under: a folder's name, a file's name without {@code .safetensors}. */
    public static String nameOf(Path p) {
        String n = p.getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    private record Stamp(long size, long modified) {
    }

    private static final Map<Path, Map.Entry<Stamp, String>> SHA256 = new ConcurrentHashMap<>();

    /**
     * The sha256 of a file's bytes, as A1111's {@code hashes.calculate_sha256} (whose first 10 hex digits are its
     * "shorthash", the model hash in infotexts). Cached per path, size and modification time (A1111 keeps the same
     * cache in cache.json): a file is read once per process unless it changes.
     */
    public static String sha256(Path file) {
        try {
            Stamp stamp = new Stamp(Files.size(file), Files.getLastModifiedTime(file).toMillis());
            Map.Entry<Stamp, String> cached = SHA256.get(file);
            if (cached != null && cached.getKey().equals(stamp)) {
                return cached.getValue();
            }
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            try (InputStream in = Files.newInputStream(file)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                }
            }
            String hex = HexFormat.of().formatHex(md.digest());
            SHA256.put(file, Map.entry(stamp, hex));
            return hex;
        } catch (IOException e) {
            throw new ModelLoadException("cannot hash " + file + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Bytes on disk: a file's size, or the sum over a folder's files (links inside it followed). */
    public static long sizeOnDisk(Path p) {
        try {
            if (!Files.isDirectory(p)) {
                return Files.size(p);
            }
            try (var s = Files.walk(p, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
                return s.filter(Files::isRegularFile).mapToLong(f -> {
                    try {
                        return Files.size(f);
                    } catch (IOException e) {
                        return 0;
                    }
                }).sum();
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            return -1;
        }
    }
}
