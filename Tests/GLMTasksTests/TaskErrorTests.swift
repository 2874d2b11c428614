import Testing
import GLMTasks

@Suite struct TaskErrorTests {
    @Test func messagesNameTheFileAndLine() {
        #expect(TaskError.data(file: "train.jsonl", line: 3, message: "missing field \"label\"").description
                == "train.jsonl:3: missing field \"label\"")
        #expect(TaskError.data(file: "val.jsonl", line: nil, message: "empty file").description == "val.jsonl: empty file")
    }
}
