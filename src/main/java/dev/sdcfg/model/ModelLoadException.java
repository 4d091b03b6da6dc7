package dev.sdcfg.model;

/** A model folder, config or weight file that cannot be used; the message names the file and key. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
