package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.SizeConditions;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** SDXL's size conditioning survives the job codec (the shared Redis queue stores tasks as this JSON). */
class JobCodecSizeConditionsTest {

    @Test
    void sizeConditionsRoundTrip() {
        GenerationRequest with = new GenerationRequest("a", "b", 64, 48, 3, "euler", null, null, 5, 1,
                new SizeConditions(96, 128, 8, 16, 40, 56));
        GenerationRequest without = new GenerationRequest("a", "b", 64, 48, 3, "euler", null, null, 5, 1);
        List<JobTask> back = JobCodec.tasks(JobCodec.tasks(List.of(new JobTask("x", with), new JobTask("y", without))));
        assertEquals(with.sizeConditions(), back.get(0).request().sizeConditions());
        assertNull(back.get(1).request().sizeConditions());
        assertEquals(with.prompt(), back.get(0).request().prompt());
    }
}
