/// The `GLMTrain` layer of swift-glm (see docs/architecture.md).
public enum GLMTrainModule {}
