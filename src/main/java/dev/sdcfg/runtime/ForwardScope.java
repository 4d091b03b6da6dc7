package dev.sdcfg.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * The NDScope that wraps one model forward: every NDArray created inside is closed when the forward returns,
 * except the ones {@link NDScope#unregister}ed (the result). It also feeds {@link OpCounter}: the number of
 * NDArrays a forward creates is the number of native ops it issued (views and reshapes included), which is what
 * host time on a GPU is proportional to.
 */
public final class ForwardScope extends NDScope {

    private static final Field RESOURCES;

    static {
        Field f;
        try {
            f = NDScope.class.getDeclaredField("resources");
            f.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            f = null; // counting unavailable; scoping still works
        }
        RESOURCES = f;
    }

    @Override
    public void close() {
        if (MemoryProbe.isProbing() && RESOURCES != null) {
            try {
                @SuppressWarnings("unchecked")
                Map<NDArray, NDArray> res = (Map<NDArray, NDArray>) RESOURCES.get(this);
                long bytes = 0;
                for (NDArray a : res.keySet()) {
                    if (!a.isReleased()) {
                        bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
                    }
                }
                MemoryProbe.observe(bytes);
            } catch (IllegalAccessException ignored) {
                // probing is best effort
            }
        }
        if (OpCounter.isCounting() && RESOURCES != null) {
            try {
                @SuppressWarnings("unchecked")
                Map<NDArray, NDArray> res = (Map<NDArray, NDArray>) RESOURCES.get(this);
                OpCounter.add(res.size());
            } catch (IllegalAccessException ignored) {
                // counting is best effort
            }
        }
        super.close();
    }
}
