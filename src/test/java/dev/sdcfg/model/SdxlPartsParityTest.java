package dev.sdcfg.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The SDXL components of the tiny SDXL model ({@code parity-extra/sdxl/model}) against
 * {@code parity-extra/sdxl/parts.safetensors}, computed by transformers' own CLIPTextModelWithProjection and diffusers'
 * own UNet2DConditionModel (tools/sdxl-goldens/gen_sdxl.py parts), in fp64 (relative L2 ≤ 1e-6) and fp32 (≤ 1e-4):
 * <ul>
 *   <li>text_encoder_2 on ids padded with "!" and with EOS: every hidden state, last_hidden_state and the pooled,
 *       projected {@code text_embeds}; once more with eos_token_id set to the EOS id (transformers' other pooling
 *       branch);</li>
 *   <li>the UNet with text_time conditioning (transformer depths 1/2/3, a DownBlock2D first) on two runs: the
 *       output and every intermediate, {@code add_time_proj} and {@code add_embedding} included.</li>
 * </ul>
 */
class SdxlPartsParityTest {

    static Path root() {
        return ExtraGoldens.root("sdxl");
    }

    @TestFactory
    List<DynamicTest> parity() {
        List<DynamicTest> tests = new ArrayList<>();
        for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
            tests.add(DynamicTest.dynamicTest("text_encoder_2 " + p.name(), () -> textEncoder2(p, false)));
            tests.add(DynamicTest.dynamicTest("text_encoder_2 eos_token_id " + p.name(), () -> textEncoder2(p, true)));
            for (String tag : List.of("r8x6_t999", "r5x7_tb")) {
                tests.add(DynamicTest.dynamicTest("unet " + tag + " " + p.name(), () -> unet(p, tag)));
            }
        }
        return tests;
    }

    private static void textEncoder2(ExtraGoldens.Precision p, boolean eosOverride) throws IOException {
        Path dir = root().resolve("model").resolve("text_encoder_2");
        JsonConfig config = JsonConfig.read(dir.resolve("config.json"));
        if (eosOverride) {
            JsonObject json = config.json().deepCopy();
            json.addProperty("eos_token_id", json.get("vocab_size").getAsInt() - 1);
            config = new JsonConfig(config.source(), json);
        }
        String prefix = (eosOverride ? "te2_eos." : "te2.") + p.name() + ".";
        try (Safetensors st = Safetensors.open(root().resolve("parts.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             Weights w = Weights.openComponent(dir, null);
             ClipTextModel te = new ClipTextModel(config, w, ComputeContext.cpu(p.dtype()), true)) {
            NDArray ids = st.load("te2.input_ids", m, null);
            Map<String, Double> errors = new LinkedHashMap<>();
            try (ClipTextModel.PooledOutput out = te.encodePooled(ids, 0)) {
                errors.put("text_embeds", Fixtures.relL2(out.textEmbeds(), st.load(prefix + "text_embeds", m, p.dtype())));
                if (!eosOverride) {
                    // hidden_states[-2], what SDXL's encode_prompt feeds the UNet
                    int n = te.numLayers();
                    errors.put("hidden_states[-2]", Fixtures.relL2(out.hiddenStates(),
                            st.load(prefix + "hidden_states." + (n - 1), m, p.dtype())));
                    NDList hs = te.hiddenStates(ids);
                    for (int k = 0; k <= n; k++) {
                        errors.put("hidden_states." + k, Fixtures.relL2(hs.get(k),
                                st.load(prefix + "hidden_states." + k, m, p.dtype())));
                    }
                    try (ClipTextModel.Output o = te.forward(ids)) {
                        errors.put("last_hidden_state", Fixtures.relL2(o.lastHiddenState(),
                                st.load(prefix + "last_hidden_state", m, p.dtype())));
                    }
                }
            }
            assertEquals(24, te.projectionDim());
            verdict("text_encoder_2" + (eosOverride ? " eos" : "") + " " + p.name(), errors, p.limit());
        }
    }

    private static void unet(ExtraGoldens.Precision p, String tag) throws IOException {
        String in = "unet." + tag + ".";
        String prefix = in + p.name() + ".";
        try (Safetensors st = Safetensors.open(root().resolve("parts.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             UNet2DConditionModel unet = UNet2DConditionModel.load(root().resolve("model").resolve("unet"),
                     ComputeContext.cpu(p.dtype()), null, 0)) {
            Map<String, NDArray> rec = new LinkedHashMap<>();
            NDArray out = unet.forward(st.load(in + "sample", m, p.dtype()), st.load(in + "timestep", m, null),
                    st.load(in + "encoder_hidden_states", m, p.dtype()), st.load(in + "text_embeds", m, p.dtype()),
                    st.load(in + "time_ids", m, p.dtype()), rec);
            Map<String, Double> errors = new LinkedHashMap<>();
            errors.put("out", Fixtures.relL2(out, st.load(prefix + "out", m, p.dtype())));
            List<String> notRecorded = new ArrayList<>();
            for (String k : new TreeSet<>(st.keys())) {
                if (k.startsWith(prefix) && !k.equals(prefix + "out")) {
                    NDArray ours = rec.get(k.substring(prefix.length()));
                    if (ours == null) {
                        notRecorded.add(k);
                    } else {
                        errors.put(k.substring(prefix.length()), Fixtures.relL2(ours, st.load(k, m, p.dtype())));
                    }
                }
            }
            assertTrue(errors.containsKey("add_embedding") && errors.containsKey("add_time_proj"), errors.toString());
            if (!notRecorded.isEmpty()) {
                fail("golden intermediates the model does not record: " + notRecorded);
            }
            verdict("unet " + tag + " " + p.name(), errors, p.limit());
        }
    }

    private static void verdict(String name, Map<String, Double> errors, double limit) {
        ExtraGoldens.Verdict v = ExtraGoldens.judge(errors, limit);
        System.out.printf(Locale.ROOT, "[sdxl parts parity] %-36s worst %.3e (%s)%n", name, v.worst(), v.worstKey());
        if (!v.overLimit().isEmpty()) {
            fail(name + ": relative L2 >= " + limit + " for " + v.overLimit() + " (all: " + errors + ")");
        }
    }
}
