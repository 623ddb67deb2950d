import Foundation
import Testing
import TributaryMath

@Suite struct FastMathTests {
    @Test("exp, log, tanh and the logistic function agree with the platform's to near float precision")
    func elementary() {
        for x in stride(from: -50.0, through: 50.0, by: 0.37) {
            #expect(abs(FastMath.exp(x) - Foundation.exp(x)) <= 1e-14 * Foundation.exp(x))
        }
        for x in [1e-300, 1e-5, 0.3, 1, 2.5, 1e5, 1e300] {
            #expect(abs(FastMath.log(x) - Foundation.log(x)) <= 1e-14 * max(1, abs(Foundation.log(x))))
        }
        for x: Float in [-30, -3, -0.5, 0, 0.5, 3, 30] {
            #expect(abs(FastMath.tanh(x) - Foundation.tanh(x)) < 1e-6)
            #expect(abs(FastMath.sigmoid(x) - 1 / (1 + Foundation.exp(-x))) < 1e-6)
        }
    }

    @Test("pow agrees with the platform's, and its edge cases are the usual ones")
    func power() {
        for x in [1e-8, 0.01, 0.5, 1.5, 2, 10, 1_000, 1e12] {
            for y in [-3.5, -1, -0.5, 0.25, 0.9723, 1, 2, 7.3] {
                let expected = Foundation.pow(x, y)
                #expect(abs(FastMath.pow(x, y) - expected) <= 1e-13 * expected, "\(x)^\(y)")
            }
        }
        #expect(FastMath.pow(5, 0) == 1)
        #expect(FastMath.pow(0, 2) == 0)
        #expect(FastMath.pow(0, -1) == .infinity)
        #expect(FastMath.pow(-2, 0.5).isNaN)
        #expect(FastMath.pow(1, 1e300) == 1)
    }
}

@Suite struct RandomTests {
    @Test("SplitMix64 gives the reference sequence (state 0: e220a8397b1dcdaf, 6e789e6aa1b965f4, 06c45d188009454f)")
    func reference() {
        var random = SplitMix64(seed: 0)
        #expect(random.next() == 0xE220_A839_7B1D_CDAF)
        #expect(random.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(random.next() == 0x06C4_5D18_8009_454F)
        #expect(random.state == 3 &* 0x9E37_79B9_7F4A_7C15)
    }

    @Test("unit draws are in [0, 1) with the mean and variance of a uniform; bits are fair")
    func uniform() {
        var random = SplitMix64(seed: 42)
        var sum = 0.0
        var squares = 0.0
        var ones = 0
        let n = 100_000
        for _ in 0..<n {
            let u = random.unit()
            #expect(u >= 0 && u < 1)
            sum += u
            squares += u * u
            ones += random.bit()
        }
        let mean = sum / Double(n)
        // Standard errors: mean 0.0009, variance 0.0003, bits 0.0016 (n = 10⁵); bounds are 5 of them.
        #expect(abs(mean - 0.5) < 0.0046)
        #expect(abs(squares / Double(n) - mean * mean - 1.0 / 12) < 0.0015)
        #expect(abs(Double(ones) / Double(n) - 0.5) < 0.008)
    }

    @Test("streams of one seed differ, and the same seed repeats")
    func streams() {
        var a = SplitMix64(seed: 7, stream: 1)
        var b = SplitMix64(seed: 7, stream: 2)
        var c = SplitMix64(seed: 7, stream: 1)
        let first = (0..<8).map { _ in a.next() }
        #expect(first != (0..<8).map { _ in b.next() })
        #expect(first == (0..<8).map { _ in c.next() })
    }

    @Test("Gaussian samples have mean 0, variance 1, and normal tails")
    func gaussian() {
        var random = SeededRandom(seed: 2_024)
        let n = 200_000
        var sum = 0.0
        var squares = 0.0
        var fourth = 0.0
        var beyond2 = 0
        for _ in 0..<n {
            let x = random.normal()
            sum += x
            squares += x * x
            fourth += x * x * x * x
            if abs(x) > 2 { beyond2 += 1 }
        }
        let mean = sum / Double(n)
        let variance = squares / Double(n) - mean * mean
        // Standard errors at n = 2·10⁵: mean 0.0022, variance 0.0032, fourth moment 0.022, tail share 0.0005.
        #expect(abs(mean) < 0.011)
        #expect(abs(variance - 1) < 0.016)
        #expect(abs(fourth / Double(n) - 3) < 0.11)
        #expect(abs(Double(beyond2) / Double(n) - 0.0455) < 0.0025)
    }

    @Test("a Gaussian with a mean and deviation scales the standard one")
    func scaled() {
        var a = SplitMix64(seed: 3)
        var b = SplitMix64(seed: 3)
        var standard = Gaussian()
        var shifted = Gaussian()
        for _ in 0..<100 {
            let z = standard.next(using: &a)
            #expect(shifted.next(mean: 10, deviation: 0.5, using: &b) == 10 + 0.5 * z)
        }
    }
}
